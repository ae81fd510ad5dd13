"""Shared pieces of the Spark jobs: reading, writing, column helpers and the command line."""

from __future__ import annotations

import os
import time
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import types as T

from meridian_assets_tests.spark_jobs.rows import delivery, ts, write_raw
from spark_jobs.cli import main
from spark_jobs.columns import minutes_between, utc_hour
from spark_jobs.layout import partition_dir
from spark_jobs import swap
from spark_jobs.swap import ORPHANED_AFTER_SECONDS, publish_partition, staging_dir
from spark_jobs.tables import RAW_SCHEMAS, read_partitions, read_raw, write_partitions


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


def test_a_staging_folder_a_killed_writer_left_is_removed_by_a_later_writer(tmp_path):
    table = tmp_path / "raw" / "gps"
    orphan, current = table / ".staging-orphan", table / ".staging-in-use"
    for folder in (orphan, current):
        (folder / "date=2026-11-01").mkdir(parents=True)
    long_ago = time.time() - ORPHANED_AFTER_SECONDS - 60
    os.utime(orphan, (long_ago, long_ago))

    fresh = staging_dir(tmp_path, "raw/gps")

    assert not orphan.exists(), "older than any run may live: a killed writer's"
    assert current.exists(), "a writer may still be using it"
    assert fresh.parent == table and fresh.name.startswith(".staging-") and not fresh.exists()


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two renames"])
def test_publishing_replaces_the_day_whole_and_leaves_nothing_beside_it(tmp_path, monkeypatch, exchange):
    """docs/ARCHITECTURE.md: the staged folder becomes the partition in one RENAME_EXCHANGE (two
    renames on filesystems without it) and the old data is removed after: no old file stays in
    the day, no staged or old copy beside it."""
    day = tmp_path / "raw" / "gps" / "date=2026-11-01"
    day.mkdir(parents=True)
    (day / "part-old.parquet").write_text("old")
    staged = staging_dir(tmp_path, "raw/gps")
    staged.mkdir()
    (staged / "part-new.parquet").write_text("new")
    exchanged, real = [], swap._exchange

    def exchange_or_not(a, b):
        exchanged.append(exchange and real(a, b))
        return exchanged[-1]

    monkeypatch.setattr(swap, "_exchange", exchange_or_not)

    publish_partition(staged, day)

    assert exchanged == [exchange], "the swap this case names was taken"
    assert {f.name: f.read_text() for f in day.iterdir()} == {"part-new.parquet": "new"}
    assert [f.name for f in day.parent.iterdir()] == ["date=2026-11-01"]
