"""GPS behaviour of each vehicle over one UTC day, from the raw pings of that day.

A day's features read only that day's pings; the point-in-time rule (a delivery of D uses
the GPS features of D-1) is applied where features are joined to deliveries, not here.
"""

from __future__ import annotations

import os

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from spark_jobs.cli import main
from spark_jobs.columns import minutes_between, utc_hour
from spark_jobs.layout import SAME_DAY, days_between
from spark_jobs.tables import publish_features, read_raw

TABLE = "features/gps"
INPUTS = {"gps": SAME_DAY}  # the raw sources read for day D, and their days
EARTH_RADIUS_KM = 6371.0088  # IUGG mean earth radius
STOPPED_BELOW_KPH = 1.0
MIN_STOP_MINUTES = 3.0
KEYS = ("vehicle_id", "date")


def haversine_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    """Great-circle distance in km between two points given in degrees."""
    sin_dlat = F.sin(F.radians(lat2 - lat1) / 2)
    sin_dlon = F.sin(F.radians(lon2 - lon1) / 2)
    # x * x rather than x ** 2: the same number, without a pow() call per ping.
    a = sin_dlat * sin_dlat + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * sin_dlon * sin_dlon
    return 2 * EARTH_RADIUS_KM * F.asin(F.sqrt(a))


def with_steps(pings: DataFrame) -> DataFrame:
    """Add what each ping adds to the previous ping of its vehicle and day, in one pass.

    `step_km` and `gap_min` are null on the day's first ping. `stop_run` identifies the run of
    consecutive stopped pings (speed_kph < 1) a ping belongs to within its vehicle-day: it is
    the number of pings so far that were not stopped, so it is the same on all pings of a run
    and differs between runs; null on pings that are not stopped (a ping without a speed is
    not stopped, and so ends a run). `p95_speed_kph` is the vehicle-day's exact 95th
    percentile of speed_kph (linear interpolation), the same on each of its pings.

    Every column comes from a single window operator over the pings sorted once by vehicle,
    day and time: one shuffle, one sort, no second pass.
    """
    # Ties on event_ts are broken on position and speed so that distances and stops never
    # depend on the order Spark reads rows in. Partitioning by date as well keeps runs and
    # gaps inside the day: each day's features stand alone, whatever range is computed.
    in_order = Window.partitionBy(*KEYS).orderBy("event_ts", "lat", "lon", "speed_kph")
    so_far = in_order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    whole_day = in_order.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    stopped = F.col("speed_kph") < STOPPED_BELOW_KPH
    not_stopped = F.when(stopped, None).otherwise(1)  # 1 also when the speed is null
    return pings.select(
        "*",
        haversine_km(F.lag("lat").over(in_order), F.lag("lon").over(in_order), F.col("lat"), F.col("lon")).alias(
            "step_km"
        ),
        minutes_between(F.lag("event_ts").over(in_order), "event_ts").alias("gap_min"),
        F.when(stopped, F.count(not_stopped).over(so_far)).alias("stop_run"),
        F.percentile("speed_kph", 0.95).over(whole_day).alias("p95_speed_kph"),
    )


def detect_stops(steps: DataFrame) -> DataFrame:
    """The stops in `with_steps` output: one row per vehicle_id, date, stop_run.

    A stop is a maximal run of consecutive pings with speed_kph < 1 whose first and last
    ping are at least 3 minutes apart (so a run of one ping is never a stop). The run's
    length is measured between its own pings: the moving pings around it do not count.
    """
    return (
        steps.where(F.col("stop_run").isNotNull())
        .groupBy(*KEYS, "stop_run")
        .agg(F.min("event_ts").alias("start_ts"), F.max("event_ts").alias("end_ts"))
        .withColumn("stop_minutes", minutes_between("start_ts", "end_ts"))
        .where(F.col("stop_minutes") >= MIN_STOP_MINUTES)
    )


def compute(gps: DataFrame) -> DataFrame:
    """One row per vehicle_id and date of `gps` (raw pings with a date column).

    p95_speed_kph is the exact percentile (linear interpolation); moving means speed_kph >= 1,
    idle means ignition on and speed_kph < 1; mean and fractions are over the pings that have
    the value (as avg() is); stop_count counts `detect_stops`; distance_km and longest_gap_min
    are over consecutive pings of the day (0.0 and null for one ping); active_hours_fraction
    is the number of distinct UTC hours with a ping over 24.

    Plan: `with_steps` (one shuffle and sort), then two aggregations that need no shuffle, as
    the rows are already partitioned by vehicle and day: first per vehicle-day and stop_run
    (each stopped run becomes one row carrying its first and last time; the vehicle's other
    pings are summed into one row with a null stop_run), then per vehicle-day.
    """
    speed = F.col("speed_kph")
    moving = (speed >= STOPPED_BELOW_KPH).cast("double")
    idle = (F.col("ignition_on") & (speed < STOPPED_BELOW_KPH)).cast("double")
    hour_bit = F.call_function("shiftleft", F.lit(1), utc_hour("event_ts"))  # distinct hours as a bit set
    runs = (
        with_steps(gps)
        .groupBy(*KEYS, "stop_run")
        .agg(
            F.count(F.lit(1)).alias("pings"),
            F.sum(speed).alias("speed_sum"),
            F.count(speed).alias("speeds"),
            F.sum(moving).alias("moving_sum"),
            F.sum(idle).alias("idle_sum"),
            F.count(idle).alias("idles"),
            F.sum("step_km").alias("step_km"),
            F.max("gap_min").alias("gap_min"),
            F.bit_or(hour_bit).alias("hours"),
            minutes_between(F.min("event_ts"), F.max("event_ts")).alias("run_minutes"),
            F.max("p95_speed_kph").alias("p95_speed_kph"),
        )
    )
    is_stop = F.col("stop_run").isNotNull() & (F.col("run_minutes") >= MIN_STOP_MINUTES)
    return (
        runs.groupBy(*KEYS)
        .agg(
            F.coalesce(F.sum("pings"), F.lit(0)).alias("ping_count"),
            F.try_divide(F.sum("speed_sum"), F.sum("speeds")).alias("mean_speed_kph"),
            F.max("p95_speed_kph").alias("p95_speed_kph"),
            F.try_divide(F.sum("moving_sum"), F.sum("speeds")).alias("moving_fraction"),
            F.try_divide(F.sum("idle_sum"), F.sum("idles")).alias("idle_fraction"),
            F.count(F.when(is_stop, 1)).alias("stop_count"),
            F.coalesce(F.sum("step_km"), F.lit(0.0)).alias("distance_km"),
            F.max("gap_min").alias("longest_gap_min"),
            (F.bit_count(F.bit_or("hours")) / 24.0).alias("active_hours_fraction"),
        )
        .select(
            "vehicle_id",
            "ping_count",
            "mean_speed_kph",
            "p95_speed_kph",
            "moving_fraction",
            "idle_fraction",
            "stop_count",
            "distance_km",
            "longest_gap_min",
            "active_hours_fraction",
            "date",
        )
    )


def run(spark: SparkSession, lake: str | os.PathLike, start: str, end: str) -> dict:
    """Compute and publish features/gps for every day start..end in one Spark job."""
    days = days_between(start, end)
    gps = read_raw(spark, lake, "gps", INPUTS["gps"].days(start, end))
    return publish_features(compute(gps), lake, TABLE, days, entity="vehicle_id")


if __name__ == "__main__":
    main(run, "gps_features")
