"""Rows and lake partitions for the Spark job tests, written as a vendor would land them."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import types as T

from spark_jobs.layout import days_between, partition_dir
from spark_jobs.tables import RAW_SCHEMAS


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
    vehicle="V1",
    region="north",
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
        "vehicle_id": vehicle,
        "route_id": route,
        "customer_id": customer,
        "region": region,
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
