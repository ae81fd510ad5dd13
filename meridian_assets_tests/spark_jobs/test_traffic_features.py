"""Traffic features: the observation exactly one hour earlier, across midnight."""

from __future__ import annotations

from pyspark.sql import functions as F

from meridian_assets_tests.spark_jobs.rows import assert_range_equals_days, raw_frame, ts, write_raw
from spark_jobs import traffic_features
from spark_jobs.traffic_features import compute


def observation(region, when, congestion, incidents):
    return {
        "region": region,
        "observed_ts": ts(when),
        "congestion_index": congestion,
        "incident_count": incidents,
        "date": when[:10],
    }


ROWS = [
    observation("north", "2024-03-01 22:00", 0.9, 9),
    observation("north", "2024-03-01 23:00", 0.4, 2),
    observation("north", "2024-03-02 00:00", 0.5, 3),
    observation("north", "2024-03-02 01:00", 0.6, 1),
    observation("north", "2024-03-02 03:00", 0.2, 0),  # 02:00 was not observed
    observation("south", "2024-03-02 00:00", 0.1, 0),
    observation("north", "2024-03-03 00:00", 0.3, 5),
]


def test_previous_hour_crosses_midnight_and_a_missing_hour_is_null(spark):
    rows = (
        compute(raw_frame(spark, "traffic", ROWS), ["2024-03-02"])
        .select("region", F.date_format("observed_ts", "HH:mm"), "congestion_prev_1h", "incidents_prev_1h")
        .orderBy("region", "observed_ts")
        .collect()
    )
    assert [tuple(r) for r in rows] == [
        ("north", "00:00", 0.4, 2),
        ("north", "01:00", 0.5, 3),
        ("north", "03:00", None, None),  # not 01:00 standing in for the missing 02:00
        ("south", "00:00", None, None),
    ]


def test_run_over_a_range_equals_day_by_day_runs(spark, tmp_path):
    write_raw(tmp_path, "traffic", ROWS)

    published, stats = assert_range_equals_days(
        spark, tmp_path, traffic_features, "2024-03-02", "2024-03-03", ["region", "observed_ts"]
    )

    assert [(r["congestion_prev_1h"], r["incidents_prev_1h"]) for r in published] == [
        (0.4, 2),
        (0.5, 3),
        (None, None),
        (None, None),
        (None, None),
    ]
    assert stats["rows_per_day"] == {"2024-03-02": 4, "2024-03-03": 1}
