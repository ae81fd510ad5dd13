"""Weather features: the rain of the 3 hours before each observation, across midnight."""

from __future__ import annotations

from pyspark.sql import functions as F

from meridian_assets_tests.spark_jobs.rows import assert_range_equals_days, raw_frame, ts, write_raw
from spark_jobs import weather_features
from spark_jobs.weather_features import compute


def observation(region, when, precip):
    return {
        "region": region,
        "observed_ts": ts(when),
        "temp_c": 4.0,
        "precip_mm": precip,
        "wind_kph": 10.0,
        "visibility_km": 9.0,
        "condition": "rain",
        "date": when[:10],
    }


ROWS = [
    observation("north", "2024-03-01 20:00", 100.0),  # more than 3 hours before midnight
    observation("north", "2024-03-01 21:00", 1.0),
    observation("north", "2024-03-01 22:00", 2.0),
    observation("north", "2024-03-01 23:00", 4.0),
    observation("north", "2024-03-02 00:00", 8.0),
    observation("north", "2024-03-02 01:00", 16.0),
    observation("north", "2024-03-02 03:00", 32.0),  # 02:00 was not observed
    observation("south", "2024-03-02 22:00", 64.0),
    observation("south", "2024-03-03 00:00", 0.0),
]


def test_previous_three_hours_reach_into_the_day_before(spark):
    rows = (
        compute(raw_frame(spark, "weather", ROWS), ["2024-03-02"])
        .select("region", F.date_format("observed_ts", "HH:mm").alias("hour"), "precip_prev_3h_mm")
        .orderBy("region", "hour")
        .collect()
    )
    assert [tuple(r) for r in rows] == [
        ("north", "00:00", 7.0),  # 21:00 + 22:00 + 23:00 of the day before
        ("north", "01:00", 14.0),
        ("north", "03:00", 24.0),  # 00:00 + 01:00; the missing 02:00 adds nothing
        ("south", "22:00", None),  # none of the three hours observed
    ]


def test_run_over_a_range_equals_day_by_day_runs_even_without_the_day_before(spark, tmp_path):
    write_raw(tmp_path, "weather", ROWS)

    published, stats = assert_range_equals_days(
        spark, tmp_path, weather_features, "2024-03-01", "2024-03-03", ["region", "observed_ts"]
    )

    # 2024-02-29 was never landed: 03-01's first hours have no history, not an error.
    assert [r["precip_prev_3h_mm"] for r in published] == [None, 100.0, 101.0, 103.0, 7.0, 14.0, 24.0, None, 64.0]
    assert stats["rows_per_day"] == {"2024-03-01": 4, "2024-03-02": 4, "2024-03-03": 1}
    assert stats["distinct_entities"] == 2
