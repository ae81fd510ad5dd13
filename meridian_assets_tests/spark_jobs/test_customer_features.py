"""Customer features: the D-1 snapshot and the on-time and delay record of D-28..D-1, never D."""

from __future__ import annotations

import pyarrow.parquet as pq

from meridian_assets_tests.spark_jobs.rows import assert_range_equals_days, delivery, raw_frame, write_raw
from spark_jobs import customer_features
from spark_jobs.layout import partition_dir
from spark_jobs.customer_features import compute

D = "2024-02-01"


def customer(customer_id, day, region="north"):
    return {
        "customer_id": customer_id,
        "region": region,
        "dock_type": "dock",
        "requires_appointment": True,
        "avg_unload_min": 25.0,
        "date": day,
    }


SNAPSHOTS = [
    customer("C1", "2024-01-31"),
    customer("C2", "2024-01-31"),
    customer("C1", D, region="south"),  # D's own snapshot is not known at D's dispatch
]
DELIVERIES = [
    delivery("d-29", "2024-01-03", late_min=30.0),  # outside the window
    delivery("d-28", "2024-01-04"),  # on time
    delivery("d-2", "2024-01-30", status="failed"),  # counted, but not in the on-time rate
    delivery("d-1", "2024-01-31", late_min=5.0, trip_min=70.0),  # late, 10 min over its 60-min plan
    delivery("d", D, late_min=60.0),  # D itself: never history
]


def test_snapshot_of_the_day_before_and_on_time_rate_without_d(spark):
    features = compute(raw_frame(spark, "customers", SNAPSHOTS), raw_frame(spark, "deliveries", DELIVERIES), [D])
    rows = {r["customer_id"]: r.asDict() for r in features.collect()}
    assert sorted(rows) == ["C1", "C2"]
    c1 = rows["C1"]
    assert (c1["region"], c1["on_time_rate_28d"], c1["deliveries_28d"], c1["date"].isoformat()) == ("north", 0.5, 3, D)
    assert c1["mean_delay_28d"] == 5.0  # d-28's 0 and d-1's 10: the failed stop has no trip
    assert (rows["C2"]["on_time_rate_28d"], rows["C2"]["deliveries_28d"], rows["C2"]["mean_delay_28d"]) == (None, 0, None)


def test_run_over_a_range_equals_day_by_day_runs_and_a_day_without_snapshot_is_empty(spark, tmp_path):
    write_raw(tmp_path, "customers", SNAPSHOTS)
    write_raw(tmp_path, "deliveries", DELIVERIES)

    published, stats = assert_range_equals_days(
        spark, tmp_path, customer_features, "2024-02-01", "2024-02-03", ["date", "customer_id"]
    )

    assert [
        (r["date"].isoformat(), r["customer_id"], r["region"], r["on_time_rate_28d"], r["deliveries_28d"])
        for r in published
    ] == [
        ("2024-02-01", "C1", "north", 0.5, 3),
        ("2024-02-01", "C2", "north", None, 0),
        ("2024-02-02", "C1", "south", 0.0, 3),  # now d-28 has left the window and d has entered it
    ]
    assert stats["rows_per_day"] == {"2024-02-01": 2, "2024-02-02": 1, "2024-02-03": 0}
    empty = pq.read_table(partition_dir(tmp_path, "features/customer", "2024-02-03"))
    assert empty.num_rows == 0
    assert empty.column_names == [
        "customer_id",
        "region",
        "dock_type",
        "requires_appointment",
        "avg_unload_min",
        "on_time_rate_28d",
        "deliveries_28d",
        "mean_delay_28d",
    ]
