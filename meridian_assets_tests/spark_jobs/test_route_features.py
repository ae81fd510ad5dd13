"""Route features: the plan of each delivery of D and the delays before D only: its route's over
D-7..D-1, its vehicle's pace and its region-hour's delays over D-28..D-1."""

from __future__ import annotations

from meridian_assets_tests.spark_jobs.rows import assert_range_equals_days, delivery, raw_frame, write_raw
from spark_jobs import route_features
from spark_jobs.route_features import compute

D = "2024-01-08"  # a Monday

HISTORY = [
    delivery("old", "2023-12-31", trip_min=160.0),  # D-8: outside the window
    delivery("d-7", "2024-01-01", trip_min=70.0),  # delay +10
    delivery("cancelled", "2024-01-05", status="cancelled"),
    delivery("failed", "2024-01-06", trip_min=500.0, status="failed"),
    delivery("d-1", "2024-01-07", trip_min=90.0),  # delay +30
]
TODAY = [
    delivery("a", D, departs="06:30", scheduled_min=45.0, trip_min=1045.0, stop=1),  # D itself: never history
    delivery("b", D, departs="09:00", scheduled_min=30.0, stop=2),
    delivery("c", D, route="R2", departs="23:15", scheduled_min=20.0),
]


def test_delay_window_is_the_seven_days_before_d(spark):
    rows = {
        r["delivery_id"]: r.asDict() for r in compute(raw_frame(spark, "deliveries", HISTORY + TODAY), [D]).collect()
    }
    assert sorted(rows) == ["a", "b", "c"]
    a = rows["a"]
    assert (a["route_stops"], a["scheduled_minutes"], a["departure_hour"], a["weekday"]) == (2, 45.0, 6, 1)
    assert (a["route_mean_delay_7d"], a["route_deliveries_7d"]) == (20.0, 2)
    assert (rows["b"]["route_mean_delay_7d"], rows["b"]["route_deliveries_7d"]) == (20.0, 2)


def test_vehicle_pace_and_region_hour_delays_are_the_28_days_before_d(spark):
    history = [
        delivery("d-29", "2023-12-10", trip_min=600.0),  # outside the window
        delivery("d-28", "2023-12-11", trip_min=90.0),  # V1, north, 08h: +30
        delivery("d-1", "2024-01-07", trip_min=60.0, vehicle="V2"),  # V2, north, 08h: 0
        delivery("d-1 south", "2024-01-07", trip_min=120.0, region="south"),  # V1, south, 08h: +60
        delivery("d-1 later", "2024-01-07", departs="14:00", trip_min=75.0, vehicle="V2"),  # V2, north, 14h: +15
        delivery("cancelled", "2024-01-07", vehicle="V3", status="cancelled"),  # no trip
    ]
    today = [
        delivery("a", D, trip_min=999.0),  # D itself: never history
        delivery("b", D, vehicle="V2", departs="14:30"),
        delivery("c", D, vehicle="V3", region="south", departs="08:10"),
    ]
    rows = {r["delivery_id"]: r for r in compute(raw_frame(spark, "deliveries", history + today), [D]).collect()}

    def features(delivery_id):
        row = rows[delivery_id]
        return row["veh_pace_28d"], row["veh_deliveries_28d"], row["region_hour_mean_delay_28d"]

    assert features("a") == (210.0 / 120.0, 2, 15.0)
    assert features("b") == (135.0 / 120.0, 2, 15.0)
    assert features("c") == (None, 0, 60.0)


def test_a_route_without_history_gets_null_delay_and_zero_count(spark):
    [row] = compute(raw_frame(spark, "deliveries", TODAY), [D]).where("route_id = 'R2'").collect()
    assert (row["route_stops"], row["departure_hour"], row["route_mean_delay_7d"], row["route_deliveries_7d"]) == (
        1,
        23,
        None,
        0,
    )


def test_run_over_a_range_equals_day_by_day_runs(spark, tmp_path):
    write_raw(tmp_path, "deliveries", HISTORY + TODAY + [delivery("e", "2024-01-09", scheduled_min=10.0)])

    published, stats = assert_range_equals_days(
        spark, tmp_path, route_features, "2024-01-07", "2024-01-09", ["delivery_id"]
    )

    assert [(r["delivery_id"], r["route_deliveries_7d"], r["weekday"]) for r in published] == [
        ("a", 2, 1),
        ("b", 2, 1),
        ("c", 0, 1),
        ("d-1", 2, 7),
        ("e", 3, 2),  # e's window holds D's a and b
    ]
    assert stats["rows_per_day"] == {"2024-01-07": 1, "2024-01-08": 3, "2024-01-09": 1}
