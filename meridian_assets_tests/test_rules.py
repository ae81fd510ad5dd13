"""Every check rule on a hand-made lake: one good case that passes, one bad case that fails.

Each case writes the partitions the rule reads (a week of history where it compares with
earlier days), then evaluates the rule for DAY. The drift rule has its own file
(ml_table/test_drift.py), the evaluation gate its story (pipeline/test_bad_days.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from meridian_assets.lake import Lake
from meridian_assets import profiles
from meridian_assets.contracts import FEATURES, SOURCES
from meridian_assets.defs.features.checks import feature_rules
from meridian_assets.defs.ingestion.checks import raw_rules
from meridian_assets.defs.ml_table.checks import ML_RULES
from meridian_assets.lake import RAW_TABLES, write_partition
from meridian_assets.quality import Partition
from spark_jobs.layout import days_between, partition_dir, shift_day

DAY = "2026-11-08"
HISTORY = days_between("2026-11-01", "2026-11-07")


def rule(rules, name):
    return next(r for r in rules if r.name == name)


def gps(day: str, vehicles: int = 10, hours=(6, 18), shift_hours: float = 0.0) -> pd.DataFrame:
    """A ping every 10 minutes per vehicle; speeds differ by day, so no two days are copies."""
    start = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=hours[0] + shift_hours)
    times = pd.date_range(start, periods=(hours[1] - hours[0]) * 6, freq="10min")
    seed = int(day.replace("-", ""))
    rows = [(f"V{v:02d}", t) for v in range(vehicles) for t in times]
    frame = pd.DataFrame(rows, columns=["vehicle_id", "event_ts"])
    rng = np.random.default_rng(seed)
    return frame.assign(lat=52.0, lon=4.3, speed_kph=rng.uniform(0, 80, len(frame)),
                        heading_deg=rng.uniform(0, 359, len(frame)), ignition_on=True)


def deliveries(day: str, rows: int = 20) -> pd.DataFrame:
    departure = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(np.arange(rows) * 10 + 8 * 60, unit="min")
    return pd.DataFrame({
        "delivery_id": [f"D{day}-{i}" for i in range(rows)], "vehicle_id": "V01", "route_id": "R1",
        "customer_id": "C1", "region": "north", "stop_sequence": np.arange(1, rows + 1),
        "planned_distance_km": 10.0, "scheduled_departure_ts": departure,
        "scheduled_arrival_ts": departure + pd.Timedelta(minutes=30), "actual_departure_ts": departure,
        "actual_arrival_ts": departure + pd.Timedelta(minutes=35), "status": "delivered",
    })


def hourly(day: str, source: str) -> pd.DataFrame:
    hours = pd.date_range(pd.Timestamp(day, tz="UTC"), periods=24, freq="h")
    frame = pd.DataFrame({"region": "north", "observed_ts": hours})
    if source == "weather":
        return frame.assign(temp_c=10.0, precip_mm=0.0, wind_kph=5.0, visibility_km=20.0, condition="clear")
    return frame.assign(congestion_index=0.2, incident_count=0)


def write(lake, table: str, day: str, frame: pd.DataFrame, schema: pa.Schema | None = None) -> None:
    write_partition(lake, table, day, pa.Table.from_pandas(frame, schema=schema, preserve_index=False))


def raw(lake, source: str, day: str, frame: pd.DataFrame) -> Partition:
    write(lake, RAW_TABLES[source], day, frame, SOURCES[source].arrow_schema)
    return Partition(Lake(root=str(lake)), RAW_TABLES[source], day)


def gps_day(lake, today: pd.DataFrame) -> Partition:
    for day in HISTORY:
        raw(lake, "gps", day, gps(day))
    return raw(lake, "gps", DAY, today)


def with_null_headings(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(heading_deg=np.where(np.arange(len(frame)) % 2 == 0, np.nan, frame["heading_deg"]))


def copy_of(day: str) -> pd.DataFrame:
    """The pings of `day`, re-stamped as DAY's: timestamps look right, movements are old."""
    return gps(day).assign(event_ts=lambda f: f["event_ts"] + (pd.Timestamp(DAY) - pd.Timestamp(day)))


GPS_RULES = raw_rules(SOURCES["gps"])
GPS_CASES = [
    ("contract", gps(DAY), gps(DAY).assign(speed_kph=400.0)),
    ("times_in_partition_day", gps(DAY), gps(shift_day(DAY, -1))),
    ("unique_key", gps(DAY), pd.concat([gps(DAY)] * 2)),
    ("not_a_copy", gps(DAY), copy_of(HISTORY[-1])),
    ("fleet_reporting", gps(DAY), gps(DAY, vehicles=5)),
    ("volume_vs_history", gps(DAY), gps(DAY, hours=(6, 9))),
    ("heading_null_rate", gps(DAY), with_null_headings(gps(DAY))),
    ("activity_hours", gps(DAY), gps(DAY, shift_hours=-3)),
]


@pytest.mark.parametrize(("name", "good", "bad"), GPS_CASES, ids=[c[0] for c in GPS_CASES])
def test_gps_rules_pass_good_days_and_fail_bad_ones(tmp_path, name, good, bad):
    assert rule(GPS_RULES, name).evaluate(gps_day(tmp_path / "good", good)).passed
    outcome = rule(GPS_RULES, name).evaluate(gps_day(tmp_path / "bad", bad))
    assert not outcome.passed, outcome.description


def test_history_rules_read_profiles_not_rows(tmp_path):
    """The earlier days' rows gone, their profiles kept: every rule judges as before."""
    today = gps_day(tmp_path, copy_of(HISTORY[-1]))
    for day in HISTORY:
        folder = partition_dir(tmp_path, RAW_TABLES["gps"], day)
        profiles.record(folder, SOURCES["gps"])
        for part in folder.glob("*.parquet"):
            part.unlink()
    assert not rule(GPS_RULES, "not_a_copy").evaluate(today).passed
    for name in ("fleet_reporting", "volume_vs_history", "activity_hours"):
        assert rule(GPS_RULES, name).evaluate(today).passed, name


def late_arrival(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(actual_arrival_ts=frame["actual_departure_ts"] - pd.Timedelta(minutes=5))


def missing_hour(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[1:]


OTHER_CASES = [
    ("deliveries", "label_sanity", deliveries(DAY), late_arrival(deliveries(DAY))),
    ("deliveries", "unique_key", deliveries(DAY), pd.concat([deliveries(DAY)] * 2)),
    ("deliveries", "contract", deliveries(DAY), deliveries(DAY).assign(status="lost")),
    ("weather", "hours_complete", hourly(DAY, "weather"), missing_hour(hourly(DAY, "weather"))),
    ("traffic", "hours_complete", hourly(DAY, "traffic"), missing_hour(hourly(DAY, "traffic"))),
    ("traffic", "times_in_partition_day", hourly(DAY, "traffic"), hourly(shift_day(DAY, 1), "traffic")),
]


@pytest.mark.parametrize(("source", "name", "good", "bad"), OTHER_CASES, ids=[f"{c[0]}-{c[1]}" for c in OTHER_CASES])
def test_other_raw_rules_pass_good_days_and_fail_bad_ones(tmp_path, source, name, good, bad):
    check = rule(raw_rules(SOURCES[source]), name)
    assert check.evaluate(raw(tmp_path / "good", source, DAY, good)).passed
    outcome = check.evaluate(raw(tmp_path / "bad", source, DAY, bad))
    assert not outcome.passed, outcome.description


def weather_features(day: str, rows: int = 24) -> pd.DataFrame:
    return hourly(day, "weather").head(rows).assign(precip_prev_3h_mm=0.0)


FEATURE_CASES = [
    ("contract", weather_features(DAY), weather_features(DAY).assign(temp_c=99.0)),
    ("row_count_vs_upstream", weather_features(DAY), weather_features(DAY, rows=20)),
    ("null_fractions", weather_features(DAY), weather_features(DAY).assign(precip_prev_3h_mm=np.nan)),
]


@pytest.mark.parametrize(("name", "good", "bad"), FEATURE_CASES, ids=[c[0] for c in FEATURE_CASES])
def test_feature_rules_pass_good_days_and_fail_bad_ones(tmp_path, name, good, bad):
    check = rule(feature_rules(FEATURES["weather"]), name)
    for case, frame in (("good", good), ("bad", bad)):
        lake = tmp_path / case
        raw(lake, "weather", DAY, hourly(DAY, "weather"))
        for day in (shift_day(DAY, -1), DAY):  # an earlier day: not the start of history
            write(lake, "features/weather", day, frame, FEATURES["weather"].arrow_schema)
        outcome = check.evaluate(Partition(Lake(root=str(lake)), "features/weather", DAY))
        assert outcome.passed == (case == "good"), (case, outcome.description)


def ml_day(rows: int = 20) -> pd.DataFrame:
    frame = pd.DataFrame({c: 1.0 for c in ["planned_distance_km", "stop_sequence", "route_stops", "departure_hour",
                                           "weekday", "temp_c", "precip_mm", "wind_kph", "visibility_km",
                                           "congestion_index", "incident_count", "route_mean_delay_7d",
                                           "veh_prev_ping_count", "veh_prev_mean_speed_kph", "veh_prev_stop_count",
                                           "veh_prev_distance_km", "avg_unload_min", "cust_on_time_rate_28d",
                                           "veh_pace_28d", "cust_mean_delay_28d"]},
                         index=range(rows))
    return frame.assign(delivery_id=[f"D{i}" for i in range(rows)], vehicle_id="V01", region="north",
                        weather_condition="clear", dock_type="dock", status="delivered",
                        scheduled_minutes=30.0, delivery_minutes=35.0)


ML_CASES = [
    ("row_count", ml_day(), ml_day(rows=15)),
    ("same_day_null_rates", ml_day(), ml_day().assign(temp_c=np.nan)),
    ("history_null_rates", ml_day(), ml_day().assign(veh_prev_ping_count=np.nan)),
    ("label_range", ml_day(), ml_day().assign(delivery_minutes=-3.0)),
    ("regions_known", ml_day(), pd.concat([ml_day(), ml_day(rows=1).assign(
        delivery_id="D99", region="atlantis", temp_c=np.nan, congestion_index=np.nan)], ignore_index=True)),
]


@pytest.mark.parametrize(("name", "good", "bad"), ML_CASES, ids=[c[0] for c in ML_CASES])
def test_ml_table_rules_pass_good_days_and_fail_bad_ones(tmp_path, name, good, bad):
    check = rule(ML_RULES, name)
    for case, frame in (("good", good), ("bad", bad)):
        lake = tmp_path / case
        raw(lake, "deliveries", DAY, deliveries(DAY))
        for day in (shift_day(DAY, -1), DAY):
            write(lake, "ml_feature_table", day, frame)
        outcome = check.evaluate(Partition(Lake(root=str(lake)), "ml_feature_table", DAY))
        assert outcome.passed == (case == "good"), (case, outcome.description)
