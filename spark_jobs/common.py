"""What every Spark job and the Dagster stages share: lake paths, atomic partition swap, session,
reading and writing date partitions, and the jobs' command line.

Kept free of Dagster so each job runs alone under spark-submit.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql import types as T

# Spark settings for a 2-core machine and small daily partitions; the resource adds the master.
# shuffle.partitions is an upper bound: adaptive execution merges the partitions of a small
# shuffle (a weather day is one task), while a big one (a 40,000-vehicle day of GPS, 35M
# pings) is cut in pieces small enough to sort in the 3g driver's memory. With 4, that day
# spilled ~2 GB to disk and took 3.5 GiB of RSS; with 16 it does not spill and takes ~2 GiB
# (docs/BENCHMARKS.md).
SPARK_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "16",
    "spark.default.parallelism": "4",
    "spark.sql.adaptive.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.driver.memory": "3g",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def partition_dir(lake: str | os.PathLike, table: str, day: str) -> Path:
    """`{lake}/{table}/date=YYYY-MM-DD`: the one layout every engine reads."""
    return Path(lake) / table / f"date={day}"


def days_between(start: str, end: str) -> list[str]:
    """Inclusive list of ISO days."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def shift_day(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def existing_partitions(lake: str | os.PathLike, table: str, days: Iterable[str]) -> list[Path]:
    """The partition folders of `days` that exist: missing history is normal at the start."""
    return [p for p in (partition_dir(lake, table, d) for d in days) if p.is_dir()]


def has_partition_before(lake: str | os.PathLike, table: str, day: str) -> bool:
    """Whether `table` has any partition before `day`: without one, `day` starts its history
    (nothing earlier can be missing); with one, a missing earlier day is a gap.
    """
    root = Path(lake) / table
    return root.is_dir() and any(p.name < f"date={day}" for p in root.glob("date=*"))


def staging_dir(lake: str | os.PathLike, table: str) -> Path:
    """A fresh folder beside the table, hidden from readers (Spark and globs skip dot folders)."""
    path = Path(lake) / table / f".staging-{uuid.uuid4().hex}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


_RENAME_EXCHANGE = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic rename (Linux renameat2 RENAME_EXCHANGE)."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # filesystem without exchange: fall back below
    raise OSError(err, os.strerror(err), str(b))


def publish_partition(staged: Path, target: Path) -> None:
    """Make `staged` the partition `target` in one rename; the old data is then removed.

    A kill at any moment leaves either the old partition or the new one in `target`,
    never a mix, and re-running a day replaces it instead of appending.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.rename(staged, target)
        return
    if _exchange(staged, target):
        shutil.rmtree(staged)  # now holds the previous partition
        return
    old = target.with_name(f".old-{uuid.uuid4().hex}")
    os.rename(target, old)
    os.rename(staged, target)
    shutil.rmtree(old)


def build_session(master: str = "local[*]", app_name: str = "meridian", conf: dict | None = None):
    """A SparkSession for spark-submit runs; in Dagster the PySparkResource builds it."""
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SPARK_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# Raw sources as CONTRACT.md defines them; ints are read as long whether a drop wrote int32 or int64.
RAW_SCHEMAS: dict[str, T.StructType] = {
    "gps": T.StructType(
        [
            T.StructField("vehicle_id", T.StringType()),
            T.StructField("event_ts", T.TimestampType()),
            T.StructField("lat", T.DoubleType()),
            T.StructField("lon", T.DoubleType()),
            T.StructField("speed_kph", T.DoubleType()),
            T.StructField("heading_deg", T.DoubleType()),
            T.StructField("ignition_on", T.BooleanType()),
        ]
    ),
    "deliveries": T.StructType(
        [
            T.StructField("delivery_id", T.StringType()),
            T.StructField("vehicle_id", T.StringType()),
            T.StructField("route_id", T.StringType()),
            T.StructField("customer_id", T.StringType()),
            T.StructField("region", T.StringType()),
            T.StructField("stop_sequence", T.LongType()),
            T.StructField("planned_distance_km", T.DoubleType()),
            T.StructField("scheduled_departure_ts", T.TimestampType()),
            T.StructField("scheduled_arrival_ts", T.TimestampType()),
            T.StructField("actual_departure_ts", T.TimestampType()),
            T.StructField("actual_arrival_ts", T.TimestampType()),
            T.StructField("status", T.StringType()),
        ]
    ),
    "weather": T.StructType(
        [
            T.StructField("region", T.StringType()),
            T.StructField("observed_ts", T.TimestampType()),
            T.StructField("temp_c", T.DoubleType()),
            T.StructField("precip_mm", T.DoubleType()),
            T.StructField("wind_kph", T.DoubleType()),
            T.StructField("visibility_km", T.DoubleType()),
            T.StructField("condition", T.StringType()),
        ]
    ),
    "traffic": T.StructType(
        [
            T.StructField("region", T.StringType()),
            T.StructField("observed_ts", T.TimestampType()),
            T.StructField("congestion_index", T.DoubleType()),
            T.StructField("incident_count", T.LongType()),
        ]
    ),
    "customers": T.StructType(
        [
            T.StructField("customer_id", T.StringType()),
            T.StructField("region", T.StringType()),
            T.StructField("dock_type", T.StringType()),
            T.StructField("requires_appointment", T.BooleanType()),
            T.StructField("avg_unload_min", T.DoubleType()),
        ]
    ),
}

DATE_FIELD = T.StructField("date", T.DateType())


def read_partitions(
    spark: SparkSession, lake: str | os.PathLike, table: str, days: Iterable[str], schema: T.StructType
) -> DataFrame:
    """The partitions of `days` that exist, plus a `date` column taken from the folder name.

    The schema is given, not inferred, so a range with no folder at all (missing history at
    the start of the lake) is an empty DataFrame of the same shape rather than an error.
    """
    full_schema = T.StructType([f for f in schema.fields if f.name != "date"] + [DATE_FIELD])
    paths = [str(p) for p in existing_partitions(lake, table, days)]
    if not paths:
        return spark.createDataFrame([], full_schema)
    base = str(Path(lake) / table)
    return spark.read.schema(full_schema).option("basePath", base).parquet(*paths)


def read_raw(spark: SparkSession, lake: str | os.PathLike, source: str, days: Iterable[str]) -> DataFrame:
    """`{lake}/raw/{source}` for `days`, with the contract's schema."""
    return read_partitions(spark, lake, f"raw/{source}", days, RAW_SCHEMAS[source])


def in_days(days: Iterable[str]) -> Column:
    """True on rows whose `date` is one of `days`."""
    return F.col("date").isin([date.fromisoformat(d) for d in days])


def write_partitions(df: DataFrame, lake: str | os.PathLike, table: str, days: list[str]) -> None:
    """Replace the partitions of `days` in `{lake}/{table}` with `df`'s rows, one swap per day.

    All days are written by one Spark job into a hidden staging folder, then each day's folder
    is swapped in. A day without rows still gets a partition (an empty parquet file carrying
    the schema, written once by a second, trivial job), so readers see "no rows" rather than
    "not computed". Other days are untouched.
    """
    staging = staging_dir(lake, table)
    try:
        # Repartitioning by date gives one file per day instead of one per task and day.
        df.where(in_days(days)).repartition("date").write.partitionBy("date").parquet(str(staging))
        empty_days = [d for d in days if not (staging / f"date={d}").is_dir()]
        if empty_days:
            empty = staging / "_empty"
            df.limit(0).drop("date").coalesce(1).write.parquet(str(empty))
            for day in empty_days:
                (staging / f"date={day}").mkdir()
                for file in empty.glob("*.parquet"):
                    shutil.copy(file, staging / f"date={day}" / file.name)
        for day in days:
            publish_partition(staging / f"date={day}", partition_dir(lake, table, day))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish_features(features: DataFrame, lake: str | os.PathLike, table: str, days: list[str], entity: str) -> dict:
    """Write a feature table for `days` and return what landed: rows per day, distinct entities, time.

    `spark_seconds` covers reading the inputs, computing and writing (the DataFrame is lazy);
    the counts are read back from the published partitions, so they describe the files.
    """
    started = time.perf_counter()
    write_partitions(features, lake, table, days)
    spark_seconds = time.perf_counter() - started
    written = read_partitions(features.sparkSession, lake, table, days, features.schema)
    rows_per_day = dict.fromkeys(days, 0)
    distinct_entities = 0
    # One pass: a row per day plus the rollup's grand total (date null; absent when no rows).
    for row in (
        written.rollup("date")
        .agg(F.count(F.lit(1)).alias("rows"), F.count_distinct(entity).alias("entities"))
        .collect()
    ):
        if row["date"] is None:
            distinct_entities = row["entities"]
        else:
            rows_per_day[row["date"].isoformat()] = row["rows"]
    return {
        "table": table,
        "start": days[0],
        "end": days[-1],
        "rows_per_day": rows_per_day,
        "distinct_entities": distinct_entities,
        "spark_seconds": round(spark_seconds, 3),
    }


def minutes_between(start: str | Column, end: str | Column) -> Column:
    """`end - start` in minutes (double), exact to the microsecond."""
    return (F.unix_micros(end) - F.unix_micros(start)) / 60_000_000.0


def utc_hour(ts: str | Column) -> Column:
    """Hour of the UTC day (0..23) of a timestamp, whatever the session time zone."""
    return F.floor(F.pmod(F.unix_seconds(ts), 86_400) / 3_600).cast("int")


def seconds_back_window(key: str, ts: str, farthest: int, nearest: int) -> WindowSpec:
    """Rows of the same `key` whose `ts` lies in [ts - farthest, ts - nearest] seconds.

    It only looks back, over time not row counts, so a missing hour stays missing and a range
    run sees exactly what a one-day run (reading D-1 and D) sees.
    """
    return Window.partitionBy(key).orderBy(F.unix_seconds(ts)).rangeBetween(-farthest, -nearest)


def trailing_sums(targets: DataFrame, daily: DataFrame, key: str, days_back: int) -> DataFrame:
    """For each (key, date) of `targets`, sum `daily`'s other columns over date-days_back..date-1.

    `daily` has one row per (key, date). Each target day is joined to its own window, so a
    range run equals per-day runs and day D itself never counts. No history gives nulls.
    """
    values = [c for c in daily.columns if c not in (key, "date")]
    history = daily.select(F.col(key).alias("_key"), F.col("date").alias("_day"), *values)
    in_window = (
        (F.col(key) == F.col("_key"))
        & (F.col("_day") >= F.date_sub("date", days_back))
        & (F.col("_day") <= F.date_sub("date", 1))
    )
    return (
        targets.select(key, "date")
        .distinct()
        .join(history, in_window, "left")
        .groupBy(key, "date")
        .agg(*[F.sum(c).alias(c) for c in values])
    )


def main(run: Callable[[SparkSession, str, str, str], dict], app_name: str, argv: list[str] | None = None) -> None:
    """The command line every job shares: `--date D [--end-date E] --lake PATH [--master M]`."""
    parser = argparse.ArgumentParser(description=f"Compute {app_name} for a day or an inclusive range of days.")
    parser.add_argument("--date", required=True, help="first (or only) day, YYYY-MM-DD")
    parser.add_argument("--end-date", help="last day of the range, YYYY-MM-DD (default: --date)")
    parser.add_argument("--lake", required=True, help="lake root holding raw/ and features/")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    end = args.end_date or args.date
    if date.fromisoformat(end) < date.fromisoformat(args.date):
        parser.error("--end-date is before --date")
    spark = build_session(args.master, app_name)
    try:
        print(json.dumps(run(spark, args.lake, args.date, end), indent=2))
    finally:
        spark.stop()
