"""Each customer as known before day D's dispatch: the D-1 snapshot and its D-28..D-1 record."""

from __future__ import annotations

import os

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.cli import main
from spark_jobs.columns import trailing_sums, trip_delay_min
from spark_jobs.layout import PREVIOUS_28_DAYS, PREVIOUS_DAY, days_between, shift_day
from spark_jobs.tables import in_days, publish_features, read_raw

TABLE = "features/customer"
INPUTS = {"customers": PREVIOUS_DAY, "deliveries": PREVIOUS_28_DAYS}  # the raw sources read for day D
SNAPSHOT_OFFSET = INPUTS["customers"].end_offset  # the snapshot of D-1
HISTORY_DAYS = -INPUTS["deliveries"].start_offset  # the record of D-28..D-1


def customer_daily_record(deliveries: DataFrame) -> DataFrame:
    """Per customer_id and date: all deliveries, delivered ones, delivered on time
    (actual_arrival_ts <= scheduled_arrival_ts), and the delivered ones' summed delay: at a
    customer, mostly the unloading and the wait at the gate beyond the dispatcher's allowance."""
    delivered = F.col("status") == "delivered"
    on_time = delivered & (F.col("actual_arrival_ts") <= F.col("scheduled_arrival_ts"))
    return deliveries.groupBy("customer_id", "date").agg(
        F.count(F.lit(1)).alias("deliveries"),
        F.sum(delivered.cast("long")).alias("delivered"),
        F.sum(on_time.cast("long")).alias("on_time"),
        F.sum(F.when(delivered, trip_delay_min())).alias("delay_min_sum"),
    )


def compute(customers: DataFrame, deliveries: DataFrame, days: list[str]) -> DataFrame:
    """One row per customer of each target day's D-1 snapshot; none when D-1 has no snapshot.

    `customers` must hold the snapshots of the day before each target day and `deliveries`
    the 28 days before each; anything else they hold is ignored.
    """
    snapshots = customers.where(in_days(shift_day(d, SNAPSHOT_OFFSET) for d in days)).withColumn(
        "date", F.date_add("date", -SNAPSHOT_OFFSET)
    )
    history = trailing_sums(snapshots, customer_daily_record(deliveries), ["customer_id"], HISTORY_DAYS)
    return snapshots.join(history, ["customer_id", "date"], "left").select(
        "customer_id",
        "region",
        "dock_type",
        "requires_appointment",
        "avg_unload_min",
        F.when(F.col("delivered") > 0, F.col("on_time") / F.col("delivered")).alias("on_time_rate_28d"),
        F.coalesce("deliveries", F.lit(0)).alias("deliveries_28d"),
        F.when(F.col("delivered") > 0, F.col("delay_min_sum") / F.col("delivered")).alias("mean_delay_28d"),
        "date",
    )


def run(spark: SparkSession, lake: str | os.PathLike, start: str, end: str) -> dict:
    """Compute and publish features/customer for every day start..end in one Spark job."""
    days = days_between(start, end)
    customers = read_raw(spark, lake, "customers", INPUTS["customers"].days(start, end))
    deliveries = read_raw(spark, lake, "deliveries", INPUTS["deliveries"].days(start, end))
    return publish_features(compute(customers, deliveries, days), lake, TABLE, days, entity="customer_id")


if __name__ == "__main__":
    main(run, "customer_features")
