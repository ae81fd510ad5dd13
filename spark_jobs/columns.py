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
