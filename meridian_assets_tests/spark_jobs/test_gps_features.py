"""GPS features: distances, stops, gaps and fractions on a hand-made day of pings."""

from __future__ import annotations

import math

import pytest
from pyspark.sql import functions as F

from meridian_assets_tests.spark_jobs.rows import assert_range_equals_days, raw_frame, ts, write_raw
from spark_jobs import gps_features
from spark_jobs.gps_features import compute, detect_stops, haversine_km, with_steps

ONE_DEGREE_KM = 6371.0088 * math.pi / 180  # 111.19508...

# (time, speed_kph, ignition_on): stopped runs of 2 min (ignition off), 3 min and 5 min,
# then a 50-minute gap into the next hour. Speeds sorted: 0 x4, 0.5 x3, 20, 30, 40, 50.
DAY = [
    ("08:00", 30.0, True),
    ("08:01", 0.0, False),
    ("08:03", 0.0, False),
    ("08:04", 20.0, True),
    ("08:05", 0.0, True),
    ("08:08", 0.0, True),
    ("08:09", 40.0, True),
    ("08:10", 0.5, True),
    ("08:12", 0.5, True),
    ("08:15", 0.5, True),
    ("09:05", 50.0, True),
]


def ping(vehicle, when, speed=10.0, ignition=True, lat=0.0, lon=0.0, day="2024-01-05"):
    return {
        "vehicle_id": vehicle,
        "event_ts": ts(f"{day} {when}"),
        "lat": lat,
        "lon": lon,
        "speed_kph": speed,
        "heading_deg": None,
        "ignition_on": ignition,
        "date": day,
    }


@pytest.fixture(scope="module")
def pings(spark):
    rows = [ping("V1", when, speed, ignition) for when, speed, ignition in DAY]
    rows += [ping("V2", "10:00", lat=0.0), ping("V2", "10:30", lat=1.0), ping("V2", "11:00", lat=1.0)]
    return raw_frame(spark, "gps", rows)


def test_haversine_of_one_degree_of_latitude_and_of_a_point_to_itself(spark):
    [row] = (
        spark.createDataFrame([(0.0, 0.0, 1.0, 13.4)], "a double, b double, c double, d double")
        .select(
            haversine_km(F.col("a"), F.col("b"), F.col("c"), F.col("b")).alias("degree"),
            haversine_km(F.col("c"), F.col("d"), F.col("c"), F.col("d")).alias("same"),
        )
        .collect()
    )
    assert row["degree"] == pytest.approx(ONE_DEGREE_KM, rel=1e-12)
    assert row["same"] == 0.0


def test_stops_are_stopped_runs_of_at_least_three_minutes(pings):
    stops = detect_stops(with_steps(pings)).orderBy("start_ts").collect()
    assert [(s["vehicle_id"], s["stop_minutes"]) for s in stops] == [("V1", 3.0), ("V1", 5.0)]


def test_features_of_a_vehicle_day(pings):
    rows = {r["vehicle_id"]: r.asDict() for r in compute(pings).collect()}
    assert rows["V1"] == {
        "vehicle_id": "V1",
        "ping_count": 11,
        "mean_speed_kph": pytest.approx(141.5 / 11),
        "p95_speed_kph": 45.0,  # exact percentile: between the 10th (40) and 11th (50) value
        "moving_fraction": pytest.approx(4 / 11),
        "idle_fraction": pytest.approx(5 / 11),  # 7 stopped pings, 2 of them with ignition off
        "stop_count": 2,
        "distance_km": 0.0,
        "longest_gap_min": 50.0,
        "active_hours_fraction": pytest.approx(2 / 24),
        "date": pings.first()["date"],
    }
    assert rows["V2"]["distance_km"] == pytest.approx(ONE_DEGREE_KM)
    assert (rows["V2"]["stop_count"], rows["V2"]["longest_gap_min"], rows["V2"]["idle_fraction"]) == (0, 30.0, 0.0)


def test_a_single_ping_has_no_gap_and_no_distance(spark):
    [row] = compute(raw_frame(spark, "gps", [ping("V3", "12:00", speed=0.0)])).collect()
    assert (row["ping_count"], row["distance_km"], row["longest_gap_min"], row["stop_count"]) == (1, 0.0, None, 0)


def test_run_over_a_range_equals_day_by_day_runs(spark, tmp_path):
    rows = [ping("V1", when, speed, ignition, day="2024-01-05") for when, speed, ignition in DAY]
    rows += [ping("V1", "23:59", lat=0.5, day="2024-01-05"), ping("V1", "00:00", lat=1.0, day="2024-01-06")]
    rows += [ping("V2", "10:00", day="2024-01-06"), ping("V2", "10:02", lat=0.1, day="2024-01-06")]
    write_raw(tmp_path, "gps", rows)

    published, stats = assert_range_equals_days(
        spark, tmp_path, gps_features, "2024-01-05", "2024-01-06", ["date", "vehicle_id"]
    )

    assert [(r["date"].isoformat(), r["vehicle_id"], r["ping_count"]) for r in published] == [
        ("2024-01-05", "V1", 12),
        ("2024-01-06", "V1", 1),
        ("2024-01-06", "V2", 2),
    ]
    assert stats["rows_per_day"] == {"2024-01-05": 1, "2024-01-06": 2}
    assert stats["distinct_entities"] == 2
    assert stats["spark_seconds"] > 0


def test_a_ping_without_speed_ends_a_stopped_run(spark):
    # 08:00-08:02 and 08:04-08:05 are two runs of 2 and 1 minutes, not one stop of 5 minutes;
    # the means and fractions are over the pings that have a speed.
    rows = [ping("V4", "08:00", speed=0.0), ping("V4", "08:02", speed=0.0), ping("V4", "08:03", speed=None)]
    rows += [ping("V4", "08:04", speed=0.0), ping("V4", "08:05", speed=0.0)]
    pings = raw_frame(spark, "gps", rows)
    assert detect_stops(with_steps(pings)).count() == 0
    [row] = compute(pings).collect()
    assert (row["ping_count"], row["stop_count"], row["mean_speed_kph"], row["moving_fraction"]) == (5, 0, 0.0, 0.0)
    assert row["idle_fraction"] == 1.0
