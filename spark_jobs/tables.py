"""Reading and writing lake tables with Spark: the raw sources' schemas, date partitions in and out."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.layout import existing_partitions, partition_dir
from spark_jobs.swap import publish_partition, staging_dir


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
