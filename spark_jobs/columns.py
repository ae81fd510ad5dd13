"""Column and window expressions the feature jobs share."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F


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


def trip_delay_min() -> Column:
    """Actual minus scheduled trip minutes of a delivery (null unless it has both trips)."""
    return minutes_between("actual_departure_ts", "actual_arrival_ts") - minutes_between(
        "scheduled_departure_ts", "scheduled_arrival_ts"
    )


def daily_delays(deliveries: DataFrame, keys: list[str]) -> DataFrame:
    """Per `keys` and date, over the delivered deliveries (cancelled and failed ones have no
    actual trip to compare): summed delay, actual and scheduled minutes, and their count."""
    return (
        deliveries.where(F.col("status") == "delivered")
        .groupBy(*keys, "date")
        .agg(
            F.sum(trip_delay_min()).alias("delay_min_sum"),
            F.sum(minutes_between("actual_departure_ts", "actual_arrival_ts")).alias("actual_min_sum"),
            F.sum(minutes_between("scheduled_departure_ts", "scheduled_arrival_ts")).alias("scheduled_min_sum"),
            F.count(F.lit(1)).alias("delivered"),
        )
    )


def trailing_sums(targets: DataFrame, daily: DataFrame, keys: list[str], days_back: int) -> DataFrame:
    """For each (keys, date) of `targets`, sum `daily`'s other columns over date-days_back..date-1.

    `daily` has one row per (keys, date). Each target day is joined to its own window, so a
    range run equals per-day runs and day D itself never counts. No history gives nulls.
    """
    values = [c for c in daily.columns if c not in (*keys, "date")]
    history = daily.select(*[F.col(k).alias(f"_{k}") for k in keys], F.col("date").alias("_day"), *values)
    in_window = (F.col("_day") >= F.date_sub("date", days_back)) & (F.col("_day") <= F.date_sub("date", 1))
    for k in keys:
        in_window = in_window & (F.col(k) == F.col(f"_{k}"))
    return (
        targets.select(*keys, "date")
        .distinct()
        .join(history, in_window, "left")
        .groupBy(*keys, "date")
        .agg(*[F.sum(c).alias(c) for c in values])
    )
