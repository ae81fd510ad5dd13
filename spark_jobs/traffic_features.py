"""Hourly traffic of day D per region, with the observation of the hour before."""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.cli import main
from spark_jobs.columns import seconds_back_window
from spark_jobs.layout import SAME_AND_PREVIOUS_DAY, days_between
from spark_jobs.tables import in_days, publish_features, read_raw

TABLE = "features/traffic"
INPUTS = {"traffic": SAME_AND_PREVIOUS_DAY}  # the raw sources read for day D, and their days


def compute(traffic: DataFrame, days: list[str]) -> DataFrame:
    """Observations of `days`; `traffic` must also hold the day before the first, so that
    midnight looks back to 23:00 of the previous day.

    The *_prev_1h columns are the region's observation at exactly observed_ts - 1h: null
    when that hour is missing, never an older observation standing in for it.
    """
    prev_hour = seconds_back_window("region", "observed_ts", 3600, 3600)
    return (
        traffic.withColumn("congestion_prev_1h", F.first("congestion_index").over(prev_hour))
        .withColumn("incidents_prev_1h", F.first("incident_count").over(prev_hour))
        .where(in_days(days))
        .select(
            "region",
            "observed_ts",
            "congestion_index",
            "incident_count",
            "congestion_prev_1h",
            "incidents_prev_1h",
            "date",
        )
    )


def run(spark: SparkSession, lake: str | os.PathLike, start: str, end: str) -> dict:
    """Compute and publish features/traffic for every day start..end in one Spark job."""
    days = days_between(start, end)
    traffic = read_raw(spark, lake, "traffic", INPUTS["traffic"].days(start, end))
    return publish_features(compute(traffic, days), lake, TABLE, days, entity="region")


if __name__ == "__main__":
    main(run, "traffic_features")
