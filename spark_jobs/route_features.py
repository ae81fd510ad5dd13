"""Plan of each delivery of day D, and the delays behind it: its route's over D-7..D-1, its
vehicle's and its region's at its departure hour over D-28..D-1 (never D itself)."""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.cli import main
from spark_jobs.columns import daily_delays, minutes_between, trailing_sums, utc_hour
from spark_jobs.layout import DAY_AND_PREVIOUS_28_DAYS, PREVIOUS_7_DAYS, PREVIOUS_28_DAYS, days_between
from spark_jobs.tables import in_days, publish_features, read_raw

TABLE = "features/route"
INPUTS = {"deliveries": DAY_AND_PREVIOUS_28_DAYS}  # the raw sources read for day D, and their days
ROUTE_DAYS = -PREVIOUS_7_DAYS.start_offset  # a route's recent delays: D-7..D-1
HISTORY_DAYS = -PREVIOUS_28_DAYS.start_offset  # a vehicle's pace and a region's hours: D-28..D-1


def compute(deliveries: DataFrame, days: list[str]) -> DataFrame:
    """One row per delivery of `days`; `deliveries` must also hold the 28 days before the first.

    route_stops counts the route's deliveries of the day (any status). Over the delivered
    deliveries before D: route_mean_delay_7d is the route's mean of actual minus scheduled trip
    minutes over D-7..D-1 (null when none) and route_deliveries_7d their count (0 when none);
    veh_pace_28d the vehicle's actual over scheduled minutes over D-28..D-1 (above 1: slower than
    planned), veh_deliveries_28d their count; region_hour_mean_delay_28d the mean delay of the
    region's deliveries that departed in the same UTC hour over D-28..D-1.
    """
    deliveries = deliveries.withColumn("departure_hour", utc_hour("scheduled_departure_ts"))
    targets = deliveries.where(in_days(days))

    def history(keys: list[str], days_back: int, **features) -> DataFrame:
        sums = trailing_sums(targets, daily_delays(deliveries, keys), keys, days_back)
        return sums.select(*keys, "date", *[column.alias(name) for name, column in features.items()])

    delivered = F.coalesce("delivered", F.lit(0))
    mean_delay = F.col("delay_min_sum") / F.col("delivered")
    route_day = Window.partitionBy("route_id", "date")
    return (
        targets.join(history(["route_id"], ROUTE_DAYS, route_mean_delay_7d=mean_delay, route_deliveries_7d=delivered),
                     ["route_id", "date"], "left")
        .join(history(["vehicle_id"], HISTORY_DAYS, veh_pace_28d=F.col("actual_min_sum") / F.col("scheduled_min_sum"),
                      veh_deliveries_28d=delivered), ["vehicle_id", "date"], "left")
        .join(history(["region", "departure_hour"], HISTORY_DAYS, region_hour_mean_delay_28d=mean_delay),
              ["region", "departure_hour", "date"], "left")
        .select(
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
            "departure_hour",
            (F.weekday("date") + 1).alias("weekday"),
            "route_mean_delay_7d",
            "route_deliveries_7d",
            "veh_pace_28d",
            "veh_deliveries_28d",
            "region_hour_mean_delay_28d",
            "date",
        )
    )


def run(spark: SparkSession, lake: str | os.PathLike, start: str, end: str) -> dict:
    """Compute and publish features/route for every day start..end in one Spark job."""
    days = days_between(start, end)
    deliveries = read_raw(spark, lake, "deliveries", INPUTS["deliveries"].days(start, end))
    return publish_features(compute(deliveries, days), lake, TABLE, days, entity="delivery_id")


if __name__ == "__main__":
    main(run, "route_features")
