"""GPS behaviour of each vehicle over one UTC day, from the raw pings of that day.

A day's features read only that day's pings; the point-in-time rule (a delivery of D uses
the GPS features of D-1) is applied where features are joined to deliveries, not here.
"""

from __future__ import annotations

import os

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.common import days_between, main, minutes_between, publish_features, read_raw, utc_hour

TABLE = "features/gps"
EARTH_RADIUS_KM = 6371.0088  # IUGG mean earth radius
STOPPED_BELOW_KPH = 1.0
MIN_STOP_MINUTES = 3.0


def haversine_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    """Great-circle distance in km between two points given in degrees."""
    dlat = F.radians(lat2 - lat1)
    dlon = F.radians(lon2 - lon1)
    a = F.sin(dlat / 2) ** 2 + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * F.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * F.asin(F.sqrt(a))


def with_steps(pings: DataFrame) -> DataFrame:
    """Add what each ping adds to the previous ping of its vehicle and day.

    `step_km` and `gap_min` are null on the day's first ping. `stop_run` numbers the runs of
    consecutive stopped pings (speed_kph < 1) within the vehicle-day; null on moving pings.
    """
    # Ties on event_ts are broken on position and speed so that distances and stops never
    # depend on the order Spark reads rows in. Partitioning by date as well keeps runs and
    # gaps inside the day: each day's features stand alone, whatever range is computed.
    in_order = Window.partitionBy("vehicle_id", "date").orderBy("event_ts", "lat", "lon", "speed_kph")
    stopped = F.col("speed_kph") < STOPPED_BELOW_KPH
    starts_run = stopped & ~F.coalesce(F.lag(stopped).over(in_order), F.lit(False))
    runs_so_far = F.sum("starts_run").over(in_order.rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return (
        pings.withColumn(
            "step_km",
            haversine_km(F.lag("lat").over(in_order), F.lag("lon").over(in_order), F.col("lat"), F.col("lon")),
        )
        .withColumn("gap_min", minutes_between(F.lag("event_ts").over(in_order), "event_ts"))
        .withColumn("starts_run", starts_run.cast("int"))
        .withColumn("stop_run", F.when(stopped, runs_so_far))
        .drop("starts_run")
    )


def detect_stops(steps: DataFrame) -> DataFrame:
    """The stops in `with_steps` output: one row per vehicle_id, date, stop_run.

    A stop is a maximal run of consecutive pings with speed_kph < 1 whose first and last
    ping are at least 3 minutes apart (so a run of one ping is never a stop). The run's
    length is measured between its own pings: the moving pings around it do not count.
    """
    return (
        steps.where(F.col("stop_run").isNotNull())
        .groupBy("vehicle_id", "date", "stop_run")
        .agg(F.min("event_ts").alias("start_ts"), F.max("event_ts").alias("end_ts"))
        .withColumn("stop_minutes", minutes_between("start_ts", "end_ts"))
        .where(F.col("stop_minutes") >= MIN_STOP_MINUTES)
    )


def compute(gps: DataFrame) -> DataFrame:
    """One row per vehicle_id and date of `gps` (raw pings with a date column).

    p95_speed_kph is the exact percentile (linear interpolation); moving means speed_kph >= 1,
    idle means ignition on and speed_kph < 1; stop_count counts `detect_stops`; distance_km
    and longest_gap_min are over consecutive pings of the day (0.0 and null for one ping);
    active_hours_fraction is the number of distinct UTC hours with a ping over 24.
    """
    steps = with_steps(gps)
    per_vehicle = steps.groupBy("vehicle_id", "date").agg(
        F.count(F.lit(1)).alias("ping_count"),
        F.avg("speed_kph").alias("mean_speed_kph"),
        F.percentile("speed_kph", 0.95).alias("p95_speed_kph"),
        F.avg((F.col("speed_kph") >= STOPPED_BELOW_KPH).cast("double")).alias("moving_fraction"),
        F.avg((F.col("ignition_on") & (F.col("speed_kph") < STOPPED_BELOW_KPH)).cast("double")).alias("idle_fraction"),
        F.coalesce(F.sum("step_km"), F.lit(0.0)).alias("distance_km"),
        F.max("gap_min").alias("longest_gap_min"),
        (F.count_distinct(utc_hour("event_ts")) / 24.0).alias("active_hours_fraction"),
    )
    stops = detect_stops(steps).groupBy("vehicle_id", "date").agg(F.count(F.lit(1)).alias("stop_count"))
    return per_vehicle.join(stops, ["vehicle_id", "date"], "left").select(
        "vehicle_id",
        "ping_count",
        "mean_speed_kph",
        "p95_speed_kph",
        "moving_fraction",
        "idle_fraction",
        F.coalesce("stop_count", F.lit(0)).alias("stop_count"),
        "distance_km",
        "longest_gap_min",
        "active_hours_fraction",
        "date",
    )


def run(spark: SparkSession, lake: str | os.PathLike, start: str, end: str) -> dict:
    """Compute and publish features/gps for every day start..end in one Spark job."""
    days = days_between(start, end)
    return publish_features(compute(read_raw(spark, lake, "gps", days)), lake, TABLE, days, entity="vehicle_id")


if __name__ == "__main__":
    main(run, "gps_features")
