"""Shared pieces of the Spark jobs, and the helpers the feature tests build their inputs with."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import types as T

from spark_jobs.common import (
    RAW_SCHEMAS,
    days_between,
    main,
    minutes_between,
    partition_dir,
    read_partitions,
    read_raw,
    utc_hour,
    write_partitions,
)

_ARROW_TYPES = {
    T.StringType(): pa.string(),
    T.DoubleType(): pa.float64(),
    T.LongType(): pa.int64(),
    T.BooleanType(): pa.bool_(),
    T.TimestampType(): pa.timestamp("us", tz="UTC"),
}


def ts(text: str) -> datetime:
    """A UTC instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def delivery(
    delivery_id,
    day,
    *,
    route="R1",
    customer="C1",
    departs="08:00",
    scheduled_min=60.0,
    trip_min=None,
    late_min=0.0,
    status="delivered",
    stop=1,
):
    """A raw delivery row of `day`: trip_min is the actual trip (default: as scheduled), late_min
    how long after the scheduled arrival it actually arrived."""
    departure = ts(f"{day} {departs}")
    scheduled_arrival = departure + timedelta(minutes=scheduled_min)
    actual_arrival = scheduled_arrival + timedelta(minutes=late_min)
    trip = timedelta(minutes=scheduled_min if trip_min is None else trip_min)
    return {
        "delivery_id": delivery_id,
        "vehicle_id": "V1",
        "route_id": route,
        "customer_id": customer,
        "region": "north",
        "stop_sequence": stop,
        "planned_distance_km": 12.5,
        "scheduled_departure_ts": departure,
        "scheduled_arrival_ts": scheduled_arrival,
        "actual_departure_ts": None if status == "cancelled" else actual_arrival - trip,
        "actual_arrival_ts": actual_arrival if status == "delivered" else None,
        "status": status,
        "date": day,
    }


def raw_frame(spark, source: str, rows: list[dict]):
    """The DataFrame read_raw would give for `rows` (dicts with the contract's columns and `date`)."""
    fields = RAW_SCHEMAS[source].fields
    schema = T.StructType([*fields, T.StructField("date", T.DateType())])
    data = [tuple(row.get(f.name) for f in fields) + (date.fromisoformat(row["date"]),) for row in rows]
    return spark.createDataFrame(data, schema)


def write_raw(lake: Path, source: str, rows: list[dict], arrow_types: dict[str, pa.DataType] | None = None) -> None:
    """Write `rows` as landed raw parquet, one `date=` folder per day, timestamps as timestamp[us, tz=UTC]."""
    types = {f.name: _ARROW_TYPES[f.dataType] for f in RAW_SCHEMAS[source].fields} | (arrow_types or {})
    schema = pa.schema(list(types.items()))
    for day in sorted({row["date"] for row in rows}):
        folder = partition_dir(lake, f"raw/{source}", day)
        folder.mkdir(parents=True, exist_ok=True)
        day_rows = [row for row in rows if row["date"] == day]
        pq.write_table(pa.Table.from_pylist(day_rows, schema=schema), folder / "part-0.parquet")


def assert_rows_close(actual: list, expected: list) -> None:
    """Rows equal, floats to 1e-9: a sum may add the same numbers in another order."""
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        for a, b in zip(got, want, strict=True):
            if isinstance(b, float) and a is not None:
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (got, want)
            else:
                assert a == b, (got, want)


def assert_range_equals_days(spark, lake: Path, job, start: str, end: str, keys: list[str]) -> tuple[list, dict]:
    """Run `job` over start..end, then day by day over the same lake: the rows must not change.

    Returns the published rows (sorted by `keys`) and the range run's stats.
    """

    def published():
        return spark.read.parquet(str(lake / job.TABLE)).orderBy(*keys).collect()

    stats = job.run(spark, lake, start, end)
    ranged = published()
    for day in days_between(start, end):
        job.run(spark, lake, day, day)
    assert_rows_close(published(), ranged)
    return ranged, stats


def test_read_missing_partitions_gives_empty_frame_with_schema(spark, tmp_path):
    gps = read_raw(spark, tmp_path, "gps", ["2024-01-01", "2024-01-02"])
    assert gps.count() == 0
    assert gps.columns == [*RAW_SCHEMAS["gps"].fieldNames(), "date"]
    assert gps.schema["date"].dataType == T.DateType()


def test_read_takes_date_from_folder_and_reads_int32_as_long(spark, tmp_path):
    write_raw(tmp_path, "deliveries", [delivery("D1", "2024-01-02", stop=3)], {"stop_sequence": pa.int32()})
    deliveries = read_raw(spark, tmp_path, "deliveries", ["2024-01-01", "2024-01-02"])
    [row] = deliveries.collect()
    assert (row["delivery_id"], row["date"], row["stop_sequence"]) == ("D1", date(2024, 1, 2), 3)
    assert deliveries.schema["stop_sequence"].dataType == T.LongType()


def test_write_partitions_replaces_a_day_and_leaves_the_others(spark, tmp_path):
    schema = "k string, v long, date date"
    first = spark.createDataFrame(
        [("a", 1, date(2024, 1, 1)), ("b", 2, date(2024, 1, 1)), ("c", 3, date(2024, 1, 2))], schema
    )
    write_partitions(first, tmp_path, "features/t", ["2024-01-01", "2024-01-02"])
    write_partitions(
        spark.createDataFrame([("z", 9, date(2024, 1, 1))], schema), tmp_path, "features/t", ["2024-01-01"]
    )

    table = read_partitions(spark, tmp_path, "features/t", ["2024-01-01", "2024-01-02"], first.schema)
    assert sorted(tuple(r) for r in table.collect()) == [("c", 3, date(2024, 1, 2)), ("z", 9, date(2024, 1, 1))]
    assert sorted(p.name for p in (tmp_path / "features/t").iterdir()) == ["date=2024-01-01", "date=2024-01-02"]


def test_write_partitions_gives_an_empty_day_a_file_with_the_schema(spark, tmp_path):
    rows = spark.createDataFrame([("a", 1, date(2024, 1, 1))], "k string, v long, date date")
    write_partitions(rows, tmp_path, "features/t", ["2024-01-01", "2024-01-02"])
    empty = pq.read_table(partition_dir(tmp_path, "features/t", "2024-01-02"))
    assert (empty.num_rows, empty.column_names) == (0, ["k", "v"])


def test_minutes_between_and_utc_hour(spark):
    [row] = (
        spark.createDataFrame([(ts("2024-01-01 23:10"), ts("2024-01-02 00:40"))], "a timestamp, b timestamp")
        .select(minutes_between("a", "b").alias("minutes"), utc_hour("a").alias("hour"))
        .collect()
    )
    assert (row["minutes"], row["hour"]) == (90.0, 23)


def test_cli_rejects_an_end_before_the_start():
    with pytest.raises(SystemExit):
        main(lambda *args: {}, "test", ["--date", "2024-01-02", "--end-date", "2024-01-01", "--lake", "/nowhere"])
