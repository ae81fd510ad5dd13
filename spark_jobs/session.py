"""The Spark settings every job and the Dagster resource share, and a session for spark-submit runs."""

from __future__ import annotations

from pyspark.sql import SparkSession

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


def build_session(master: str = "local[*]", app_name: str = "meridian", conf: dict | None = None):
    """A SparkSession for spark-submit runs; in Dagster the PySparkResource builds it."""
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**SPARK_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
