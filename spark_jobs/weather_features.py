"""Hourly weather of day D per region, with the rain of the 3 hours before each observation."""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.cli import main
from spark_jobs.columns import seconds_back_window
from spark_jobs.layout import SAME_AND_PREVIOUS_DAY, days_between
from spark_jobs.tables import in_days, publish_features, read_raw

TABLE = "features/weather"
INPUTS = {"weather": SAME_AND_PREVIOUS_DAY}  # the raw sources read for day D, and their days


def compute(weather: DataFrame, days: list[str]) -> DataFrame:
    """Observations of `days`; `weather` must also hold the day before the first, so that
    the early hours of a day look back across midnight.

    precip_prev_3h_mm sums the observations in [observed_ts - 3h, observed_ts): the hour
    itself is excluded, and it is null when none of those three hours was observed.
    """
    prev_3h = seconds_back_window("region", "observed_ts", 3 * 3600, 1)
    return (
        weather.withColumn("precip_prev_3h_mm", F.sum("precip_mm").over(prev_3h))
        .where(in_days(days))
        .select(
            "region",
            "observed_ts",
            "temp_c",
            "precip_mm",
            "wind_kph",
            "visibility_km",
            "condition",
            "precip_prev_3h_mm",
            "date",
        )
    )


def run(spark: SparkSession, lake: str | os.PathLike, start: str, end: str) -> dict:
    """Compute and publish features/weather for every day start..end in one Spark job."""
    days = days_between(start, end)
    weather = read_raw(spark, lake, "weather", INPUTS["weather"].days(start, end))
    return publish_features(compute(weather, days), lake, TABLE, days, entity="region")


if __name__ == "__main__":
    main(run, "weather_features")
