"""Plan of each delivery of day D and its route's recent delays (D-7..D-1, never D itself)."""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.cli import main
from spark_jobs.columns import minutes_between, trailing_sums, utc_hour
from spark_jobs.layout import DAY_AND_PREVIOUS_7_DAYS, days_between
from spark_jobs.tables import in_days, publish_features, read_raw

TABLE = "features/route"
INPUTS = {"deliveries": DAY_AND_PREVIOUS_7_DAYS}  # the raw sources read for day D, and their days
HISTORY_DAYS = -INPUTS["deliveries"].start_offset  # a route's delays of D-7..D-1


def route_daily_delays(deliveries: DataFrame) -> DataFrame:
    """Per route_id and date: the summed delay (actual minus scheduled minutes) and count of
    its delivered deliveries. Cancelled and failed ones have no actual trip to compare."""
    delay = minutes_between("actual_departure_ts", "actual_arrival_ts") - minutes_between(
        "scheduled_departure_ts", "scheduled_arrival_ts"
    )
    return (
        deliveries.where(F.col("status") == "delivered")
        .groupBy("route_id", "date")
        .agg(F.sum(delay).alias("delay_min_sum"), F.count(F.lit(1)).alias("delivered"))
    )


def compute(deliveries: DataFrame, days: list[str]) -> DataFrame:
    """One row per delivery of `days`; `deliveries` must also hold the 7 days before the first.

    route_stops counts the route's deliveries of the day (any status). The 7-day history covers
    the route's delivered deliveries of D-7..D-1: route_mean_delay_7d is their mean of actual
    minus scheduled trip minutes (null when none), route_deliveries_7d their count (0 when none).
    """
    targets = deliveries.where(in_days(days))
    history = trailing_sums(targets, route_daily_delays(deliveries), "route_id", HISTORY_DAYS)
    route_day = Window.partitionBy("route_id", "date")
    return targets.join(history, ["route_id", "date"], "left").select(
        "delivery_id",
        "route_id",
        "vehicle_id",
        "customer_id",
        "region",
        "scheduled_departure_ts",
        "planned_distance_km",
        "stop_sequence",
        F.count(F.lit(1)).over(route_day).alias("route_stops"),
        minutes_between("scheduled_departure_ts", "scheduled_arrival_ts").alias("scheduled_minutes"),
        utc_hour("scheduled_departure_ts").alias("departure_hour"),
        (F.weekday("date") + 1).alias("weekday"),
        (F.col("delay_min_sum") / F.col("delivered")).alias("route_mean_delay_7d"),
        F.coalesce("delivered", F.lit(0)).alias("route_deliveries_7d"),
        "date",
    )


def run(spark: SparkSession, lake: str | os.PathLike, start: str, end: str) -> dict:
    """Compute and publish features/route for every day start..end in one Spark job."""
    days = days_between(start, end)
    deliveries = read_raw(spark, lake, "deliveries", INPUTS["deliveries"].days(start, end))
    return publish_features(compute(deliveries, days), lake, TABLE, days, entity="delivery_id")


if __name__ == "__main__":
    main(run, "route_features")
