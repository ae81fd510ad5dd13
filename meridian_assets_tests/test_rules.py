"""Every check rule on a hand-made lake: one good case that passes, one bad case that fails.

Each case writes the partitions the rule reads (a week of history where it compares with
earlier days), then evaluates the rule for DAY, and states what the check shows for both days
(the value measured, the threshold, the description) and the severity the bad day's result is
recorded with, as docs/CHECKS.md declares it: ERROR for a blocking rule (it holds what reads the
day), WARN for the others. The rules' limits are tested at the limit, and the rules comparing
with earlier days on the first day. The drift rule has its own file (ml_table/test_drift.py),
the evaluation gate ml/test_model.py and ml/test_deploy.py.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import dagster as dg
from meridian_assets.lake import Lake
from meridian_assets import profiles
from meridian_assets.contracts import FEATURES, SOURCES
from meridian_assets.definitions import defs
from meridian_assets.defs.features.checks import feature_rules
from meridian_assets.defs.ingestion.checks import raw_rules
from meridian_assets.defs.ml_table import checks as ml_table_checks
from meridian_assets.lake import RAW_TABLES, write_partition
from meridian_assets.quality import INPUTS_FIT, Partition, _result
from spark_jobs.layout import days_between, partition_dir, shift_day

DAY = "2026-11-08"
HISTORY = days_between("2026-11-01", "2026-11-07")
ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
# docs/CHECKS.md: the rules that block nothing, whose failures are WARN; every other rule is blocking (ERROR).
WARN_ONLY = {"null_fractions", "history_null_rates", "regions_known"}


def rule(rules, name):
    return next(r for r in rules if r.name == name)


# The rules are built when their module loads; each test takes them built anew, so what is
# tested includes how they are built (mutation testing imports once, then changes the code).
def gps_rules():
    return raw_rules(SOURCES["gps"])


def ml_rules():
    return importlib.reload(ml_table_checks).ML_RULES


@pytest.fixture(scope="module")
def graph():
    return defs().resolve_asset_graph()


def shown(outcome) -> tuple:
    """What the check shows: passed, the value measured, the threshold, the description."""
    return outcome.passed, outcome.value, outcome.threshold, outcome.description


def assert_recorded_severity(graph, asset: str, check, outcome) -> None:
    """The bad day's result is recorded with the severity docs/CHECKS.md declares for the rule."""
    result = _result(asset, check, DAY, outcome, graph)
    assert (result.passed, result.severity) == (False, WARN if check.name in WARN_ONLY else ERROR), check.name
    assert check.blocking == (check.name not in WARN_ONLY), check.name


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


# A good day (10 vehicles, a ping every 10 minutes from 06:00 to 18:00: 720 pings) and a bad one,
# each with what the check shows: (value, threshold, description).
GPS_CASES = [
    ("contract", gps(DAY), (0, 0, "720 rows match the raw_gps_telemetry contract"),
     gps(DAY).assign(speed_kph=400.0), (720, 0, "column 'speed_kph' breaks in_range(0, 250) (720 rows)")),
    ("times_in_partition_day", gps(DAY), (0, 0, "0 rows have event_ts outside 2026-11-08 UTC (first 2026-11-08 "
                                                "06:00:00+00:00, last 2026-11-08 17:50:00+00:00)"),
     gps(shift_day(DAY, -1)), (720, 0, "720 rows have event_ts outside 2026-11-08 UTC (first 2026-11-07 "
                                       "06:00:00+00:00, last 2026-11-07 17:50:00+00:00)")),
    ("unique_key", gps(DAY), (0.0, 0.01, "0 rows repeat a (vehicle_id, event_ts)"),
     pd.concat([gps(DAY)] * 2), (0.5, 0.01, "720 rows repeat a (vehicle_id, event_ts)")),
    ("not_a_copy", gps(DAY), ("none", "no identical day", "content differs from the last 7 days"),
     copy_of(HISTORY[-1]), ("2026-11-07", "no identical day", "identical content to 2026-11-07")),
    ("fleet_reporting", gps(DAY), (1.0, 0.9, "100.0% of the 10 vehicles active in the last 7 days report today"),
     gps(DAY, vehicles=5), (0.5, 0.9, "50.0% of the 10 vehicles active in the last 7 days report today")),
    ("volume_vs_history", gps(DAY), (1.0, "0.5..1.5", "720 pings, 1.00 x the 7-day median of 720"),
     gps(DAY, hours=(6, 9)), (0.25, "0.5..1.5", "180 pings, 0.25 x the 7-day median of 720")),
    ("heading_null_rate", gps(DAY), (0.0, 0.1, "0.0% of pings have no heading"),
     with_null_headings(gps(DAY)), (0.5, 0.1, "50.0% of pings have no heading")),
    ("activity_hours", gps(DAY), (0.0, 1.0, "mean ping time moved -0.00 h against the last 7 days"),
     gps(DAY, shift_hours=-3), (-3.0, 1.0, "mean ping time moved -3.00 h against the last 7 days")),
]


@pytest.mark.parametrize(("name", "good", "good_shows", "bad", "bad_shows"), GPS_CASES, ids=[c[0] for c in GPS_CASES])
def test_gps_rules_pass_good_days_and_fail_bad_ones(tmp_path, graph, name, good, good_shows, bad, bad_shows):
    check = rule(gps_rules(), name)
    assert shown(check.evaluate(gps_day(tmp_path / "good", good))) == (True, *good_shows)
    outcome = check.evaluate(gps_day(tmp_path / "bad", bad))
    assert shown(outcome) == (False, *bad_shows)
    assert_recorded_severity(graph, "raw_gps_telemetry", check, outcome)


def with_duplicates(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    return pd.concat([frame, frame.head(rows)], ignore_index=True)


# At each limit of docs/CHECKS.md the day passes; just past it, it fails.
GPS_LIMITS = [
    ("fleet_reporting", gps(DAY, vehicles=9), True),  # 9 of the 10 vehicles: 90%
    ("volume_vs_history", gps(DAY, hours=(6, 12)), True),  # 360 pings: 0.5 x 720
    ("volume_vs_history", gps(DAY, hours=(6, 24)), True),  # 1,080 pings: 1.5 x 720
    ("volume_vs_history", gps(DAY, hours=(0, 24)), False),  # 1,440 pings: 2 x 720
    ("heading_null_rate", gps(DAY).assign(heading_deg=lambda f: f["heading_deg"].where(f.index % 10 != 0)), True),
    ("heading_null_rate", gps(DAY).assign(heading_deg=lambda f: f["heading_deg"].where(f.index % 9 != 0)), False),
    ("activity_hours", gps(DAY, shift_hours=1), True),  # one hour later: the limit
    ("activity_hours", gps(DAY, shift_hours=1.5), False),
    ("activity_hours", gps(DAY, shift_hours=-1.5), False),
    ("unique_key", with_duplicates(gps(DAY, vehicles=11, hours=(6, 21)), 10), True),  # 10 of 1,000 rows: 1%
    ("unique_key", with_duplicates(gps(DAY, vehicles=11, hours=(6, 21)), 11), False),
]


@pytest.mark.parametrize(("name", "today", "passes"), GPS_LIMITS, ids=[f"{c[0]}-{c[2]}" for c in GPS_LIMITS])
def test_gps_rules_hold_at_their_limits(tmp_path, name, today, passes):
    outcome = rule(gps_rules(), name).evaluate(gps_day(tmp_path, today))
    assert outcome.passed is passes, outcome.description


def test_activity_hours_allows_exactly_one_hour_either_way(tmp_path):
    """One ping per vehicle at noon on each earlier day: the mean hours are exact, so is the limit."""

    def at(day: str, hour: int) -> pd.DataFrame:
        return gps(day, hours=(hour, hour + 1)).iloc[::6]  # each vehicle's first ping: hour:00

    for hour, shift in ((13, 1.0), (11, -1.0)):
        lake = tmp_path / str(hour)
        for day in HISTORY:
            raw(lake, "gps", day, at(day, 12))
        outcome = rule(gps_rules(), "activity_hours").evaluate(raw(lake, "gps", DAY, at(DAY, hour)))
        assert (outcome.passed, outcome.value) == (True, shift)


def test_gps_values_are_shown_rounded_as_measured(tmp_path):
    """Shares and ratios to 4 places, the shift to 3 (minutes): what the UI shows."""
    ten_minutes_late = rule(gps_rules(), "activity_hours").evaluate(gps_day(tmp_path / "late", gps(DAY, shift_hours=1 / 6)))
    assert (ten_minutes_late.passed, ten_minutes_late.value) == (True, 0.167)
    ninth = gps(DAY).assign(heading_deg=lambda f: f["heading_deg"].where(f.index % 9 != 0))  # 80 of 720
    assert rule(gps_rules(), "heading_null_rate").evaluate(gps_day(tmp_path / "ninth", ninth)).value == 0.1111
    for day in HISTORY:
        raw(tmp_path / "eight", "gps", day, gps(day, vehicles=9))
    eight = rule(gps_rules(), "fleet_reporting").evaluate(raw(tmp_path / "eight", "gps", DAY, gps(DAY, vehicles=8)))
    assert (eight.passed, eight.value) == (False, 0.8889)  # 8 of 9 vehicles
    fewer = gps(DAY).iloc[20:]  # 700 of 720 pings
    assert rule(gps_rules(), "volume_vs_history").evaluate(gps_day(tmp_path / "fewer", fewer)).value == 0.9722
    lone = gps(DAY, vehicles=1).head(1).assign(heading_deg=np.nan)  # one ping, without heading
    assert shown(rule(gps_rules(), "heading_null_rate").evaluate(gps_day(tmp_path / "lone", lone)))[:3] == (False, 1.0, 0.1)


def test_a_copy_of_several_earlier_days_names_them_all(tmp_path):
    for day in HISTORY[:-2]:
        raw(tmp_path, "gps", day, gps(day))
    for day in HISTORY[-2:]:
        raw(tmp_path, "gps", day, copy_of(HISTORY[-1]).assign(event_ts=lambda f, d=day: f["event_ts"] - (
            pd.Timestamp(DAY) - pd.Timestamp(d))))
    outcome = rule(gps_rules(), "not_a_copy").evaluate(raw(tmp_path, "gps", DAY, copy_of(HISTORY[-1])))
    assert shown(outcome) == (False, "2026-11-06, 2026-11-07", "no identical day",
                              "identical content to 2026-11-06, 2026-11-07")


def test_gps_rules_on_the_first_day_have_nothing_to_compare_with(tmp_path):
    first = raw(tmp_path, "gps", DAY, gps(DAY))
    assert {name: shown(rule(gps_rules(), name).evaluate(first)) for name in
            ("not_a_copy", "fleet_reporting", "volume_vs_history", "activity_hours")} == {
        "not_a_copy": (True, "none", "no identical day", "content differs from the last 7 days"),
        "fleet_reporting": (True, "no history", 0.9, "no earlier days to compare with"),
        "volume_vs_history": (True, "no history", "0.5..1.5", "no earlier days"),
        "activity_hours": (True, "no history", 1.0, "no earlier days"),
    }


def test_history_rules_read_profiles_not_rows(tmp_path):
    """The earlier days' rows gone, their profiles kept: every rule judges as before."""
    today = gps_day(tmp_path, copy_of(HISTORY[-1]))
    for day in HISTORY:
        folder = partition_dir(tmp_path, RAW_TABLES["gps"], day)
        profiles.record(folder, SOURCES["gps"])
        for part in folder.glob("*.parquet"):
            part.unlink()
    assert not rule(gps_rules(), "not_a_copy").evaluate(today).passed
    for name in ("fleet_reporting", "volume_vs_history", "activity_hours"):
        assert rule(gps_rules(), name).evaluate(today).passed, name


def late_arrival(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(actual_arrival_ts=frame["actual_departure_ts"] - pd.Timedelta(minutes=5))


def missing_hour(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[1:]


LABELS = "0 bad labels, delivered share >= 0.5"
OTHER_CASES = [
    ("deliveries", "label_sanity", deliveries(DAY), (0, LABELS, "0 rows with an impossible label or status; 100.0% delivered"),
     late_arrival(deliveries(DAY)), (20, LABELS, "20 rows with an impossible label or status; 100.0% delivered")),
    ("deliveries", "unique_key", deliveries(DAY), (0.0, 0.0, "0 rows repeat a (delivery_id)"),
     pd.concat([deliveries(DAY)] * 2), (0.5, 0.0, "20 rows repeat a (delivery_id)")),
    ("deliveries", "contract", deliveries(DAY), (0, 0, "20 rows match the raw_deliveries contract"),
     deliveries(DAY).assign(status="lost"),
     (20, 0, "column 'status' breaks isin(['delivered', 'cancelled', 'failed']) (20 rows)")),
    ("weather", "hours_complete", hourly(DAY, "weather"), (0, "every region 24 hours", "1 regions x 24 hours"),
     missing_hour(hourly(DAY, "weather")), (1, "every region 24 hours", "1 of 1 regions miss hours: {'north': 23}")),
    ("traffic", "hours_complete", hourly(DAY, "traffic"), (0, "every region 24 hours", "1 regions x 24 hours"),
     missing_hour(hourly(DAY, "traffic")), (1, "every region 24 hours", "1 of 1 regions miss hours: {'north': 23}")),
    ("traffic", "times_in_partition_day", hourly(DAY, "traffic"),
     (0, 0, "0 rows have observed_ts outside 2026-11-08 UTC (first 2026-11-08 00:00:00+00:00, last 2026-11-08 "
            "23:00:00+00:00)"),
     hourly(shift_day(DAY, 1), "traffic"),
     (24, 0, "24 rows have observed_ts outside 2026-11-08 UTC (first 2026-11-09 00:00:00+00:00, last 2026-11-09 "
             "23:00:00+00:00)")),
]


@pytest.mark.parametrize(("source", "name", "good", "good_shows", "bad", "bad_shows"), OTHER_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in OTHER_CASES])
def test_other_raw_rules_pass_good_days_and_fail_bad_ones(tmp_path, graph, source, name, good, good_shows, bad,
                                                          bad_shows):
    check = rule(raw_rules(SOURCES[source]), name)
    assert shown(check.evaluate(raw(tmp_path / "good", source, DAY, good))) == (True, *good_shows)
    outcome = check.evaluate(raw(tmp_path / "bad", source, DAY, bad))
    assert shown(outcome) == (False, *bad_shows)
    assert_recorded_severity(graph, SOURCES[source].asset_name, check, outcome)


def stops(minutes: list[float | None], statuses: list[str]) -> pd.DataFrame:
    """Deliveries of DAY taking `minutes` (None: no arrival), with `statuses`; cancelled ones never departed."""
    frame = deliveries(DAY, len(minutes)).assign(status=statuses)
    taken = pd.to_timedelta(pd.Series(minutes, dtype=float), unit="min").to_numpy()
    return frame.assign(actual_arrival_ts=frame["actual_departure_ts"] + taken,
                        actual_departure_ts=frame["actual_departure_ts"].where(frame["status"] != "cancelled"))


# (passed, bad labels) at docs/CHECKS.md's limits: 1..600 minutes, at least half delivered.
LABEL_LIMITS = [
    (stops([1.0, 600.0], ["delivered"] * 2), (True, 0)),  # the shortest and the longest plausible stop
    (stops([0.9, 601.0], ["delivered"] * 2), (False, 2)),
    (stops([30.0, None], ["delivered", "cancelled"]), (True, 0)),  # half delivered
    (stops([30.0, None, None], ["delivered", "cancelled", "failed"]), (False, 0)),  # a third delivered
    (stops([30.0, 30.0], ["delivered", "failed"]), (False, 1)),  # a failed stop that arrived
    (stops([30.0, None], ["delivered", "delivered"]), (False, 1)),  # delivered, never arrived
    (stops([30.0, None], ["delivered", "cancelled"]).assign(
        actual_departure_ts=lambda f: f["scheduled_departure_ts"]), (False, 1)),  # cancelled, but departed
]


@pytest.mark.parametrize(("frame", "verdict"), LABEL_LIMITS)
def test_label_sanity_holds_at_its_limits(tmp_path, frame, verdict):
    outcome = rule(raw_rules(SOURCES["deliveries"]), "label_sanity").evaluate(raw(tmp_path, "deliveries", DAY, frame))
    assert (outcome.passed, outcome.value) == verdict, outcome.description


def test_hours_complete_fails_a_day_without_any_region(tmp_path):
    empty = hourly(DAY, "weather").assign(region=None)
    outcome = rule(raw_rules(SOURCES["weather"]), "hours_complete").evaluate(raw(tmp_path, "weather", DAY, empty))
    assert shown(outcome) == (False, 0, "every region 24 hours", "0 regions x 24 hours")


def test_a_failed_error_check_says_what_it_blocks_and_a_warn_blocks_nothing(tmp_path, graph):
    """The result a step records: the day, the description, value and threshold, and for ERROR
    what reads the day (weather features read D-1..D; the model needs its own day only)."""
    check = rule(raw_rules(SOURCES["weather"]), "hours_complete")
    outcome = check.evaluate(raw(tmp_path, "weather", DAY, missing_hour(hourly(DAY, "weather"))))
    blocks = ("weather_features 2026-11-08..2026-11-09; ml_feature_table 2026-11-08..2026-11-09; "
              "delivery_time_model 2026-11-08..2026-11-09; deployed_model 2026-11-08..2026-11-09")
    result = _result("raw_weather", check, DAY, outcome, graph)
    assert (result.passed, result.severity, result.description) == (
        False, ERROR, f"2026-11-08: 1 of 1 regions miss hours: {{'north': 23}}. Blocks: {blocks}")
    assert {k: v.value for k, v in result.metadata.items()} == {
        "value": 1, "threshold": "every region 24 hours", "blocks": blocks}
    assert (result.asset_key, result.check_name) == (dg.AssetKey("raw_weather"), "hours_complete")
    last = _result("deployed_model", check, DAY, outcome, graph)  # nothing reads the deployment
    assert (last.description, last.metadata["blocks"].value) == (
        f"2026-11-08: {outcome.description}. Blocks: nothing", "nothing")
    warned = _result("ml_feature_table", rule(ml_rules(), "regions_known"), DAY, outcome, graph)
    assert (warned.passed, warned.severity, warned.description) == (False, WARN, "2026-11-08: " + outcome.description)
    assert set(warned.metadata) == {"value", "threshold"}
    passed = _result("raw_weather", check, DAY, replace_outcome(outcome, passed=True), graph)
    assert (passed.passed, passed.severity, passed.description) == (True, ERROR, outcome.description)
    drift_warn = _result("raw_weather", check, DAY, replace_outcome(outcome, severity=WARN), graph)
    assert (drift_warn.severity, set(drift_warn.metadata)) == (WARN, {"value", "threshold"})


def replace_outcome(outcome, **changes):
    from dataclasses import replace

    return replace(outcome, **changes)


def test_inputs_fit_names_what_the_day_reads_that_is_unfit():
    asked = []

    def partition(problems: list[str]) -> Partition:
        fitness = SimpleNamespace(input_problems=lambda key, day: asked.append((key, day)) or problems)
        return Partition(Lake(root="unused"), "ml_feature_table", DAY, "ml_feature_table", fitness)

    fit = INPUTS_FIT.evaluate(partition([]))
    assert shown(fit) == (True, 0, 0, "every partition it reads is fit to use")
    assert fit.extra["problems"].value == []
    problems = [f"gps_features.contract failed for 2026-10-{d:02d}" for d in range(1, 32)]
    unfit = INPUTS_FIT.evaluate(partition(problems))
    assert shown(unfit) == (False, 31, 0, "; ".join(problems[:5]))
    assert unfit.extra["problems"].value == problems[:30]
    assert asked == [(dg.AssetKey("ml_feature_table"), DAY)] * 2
    assert INPUTS_FIT.blocking


def weather_features(day: str, rows: int = 24) -> pd.DataFrame:
    return hourly(day, "weather").head(rows).assign(precip_prev_3h_mm=0.0)


FEATURE_CASES = [
    ("contract", weather_features(DAY), (0, 0, "24 rows match the weather_features contract"),
     weather_features(DAY).assign(temp_c=99.0), (24, 0, "column 'temp_c' breaks in_range(-60, 60) (24 rows)")),
    ("row_count_vs_upstream", weather_features(DAY),
     (24, 24, "24 rows for 24 upstream entities in raw weather (date=2026-11-08)"),
     weather_features(DAY, rows=20), (20, 24, "20 rows for 24 upstream entities in raw weather (date=2026-11-08)")),
    ("null_fractions", weather_features(DAY), (0.0, 0.5, "worst column precip_prev_3h_mm: 0.0% null"),
     weather_features(DAY).assign(precip_prev_3h_mm=np.nan), (1.0, 0.5, "worst column precip_prev_3h_mm: 100.0% null")),
]


def weather_features_day(lake, frame: pd.DataFrame, days=(shift_day(DAY, -1), DAY), upstream: bool = True) -> Partition:
    """`frame` as the weather features of `days` (by default an earlier day too: not the start of
    history), over DAY's raw weather (unless `upstream` is False)."""
    if upstream:
        raw(lake, "weather", DAY, hourly(DAY, "weather"))
    for day in days:
        write(lake, "features/weather", day, frame, FEATURES["weather"].arrow_schema)
    return Partition(Lake(root=str(lake)), "features/weather", DAY)


@pytest.mark.parametrize(("name", "good", "good_shows", "bad", "bad_shows"), FEATURE_CASES,
                         ids=[c[0] for c in FEATURE_CASES])
def test_feature_rules_pass_good_days_and_fail_bad_ones(tmp_path, graph, name, good, good_shows, bad, bad_shows):
    check = rule(feature_rules(FEATURES["weather"]), name)
    assert shown(check.evaluate(weather_features_day(tmp_path / "good", good))) == (True, *good_shows)
    outcome = check.evaluate(weather_features_day(tmp_path / "bad", bad))
    assert shown(outcome) == (False, *bad_shows)
    assert_recorded_severity(graph, "weather_features", check, outcome)


def test_gps_features_have_one_row_per_vehicle_not_per_ping(tmp_path):
    raw(tmp_path, "gps", DAY, gps(DAY))  # 720 pings of 10 vehicles
    lake = Lake(root=str(tmp_path))
    check = rule(feature_rules(FEATURES["gps"]), "row_count_vs_upstream")
    write(tmp_path, "features/gps", DAY, pd.DataFrame({"vehicle_id": [f"V{v:02d}" for v in range(10)]}))
    assert shown(check.evaluate(Partition(lake, "features/gps", DAY)))[:3] == (True, 10, 10)


def test_customer_features_on_the_first_day_have_no_snapshot_to_count(tmp_path):
    """They count the customers of D-1's snapshot: before the first raw day there is none."""
    check = rule(feature_rules(FEATURES["customer"]), "row_count_vs_upstream")
    customers = pd.DataFrame({"customer_id": pd.Series([], dtype=str)})

    def judged(lake, frame: pd.DataFrame, days=(DAY,)):
        for day in days:
            write(lake, "features/customer", day, frame)
        return shown(check.evaluate(Partition(Lake(root=str(lake)), "features/customer", DAY)))

    first = (True, 0, 0, "no history yet: raw customers has no day before 2026-11-08")
    assert judged(tmp_path / "first", customers) == first
    assert judged(tmp_path / "features_before", customers, days=(shift_day(DAY, -1), DAY)) == first
    assert judged(tmp_path / "rows", customers.reindex([0]).fillna("C1"))[:2] == (False, 1)
    write(tmp_path / "gap", RAW_TABLES["customers"], shift_day(DAY, -3), pd.DataFrame({"customer_id": ["C1"]}))
    assert judged(tmp_path / "gap", customers) == (
        False, 0, 0, "0 rows for 0 upstream entities in raw customers (date=2026-11-07 missing)")


def test_rules_built_per_source_say_what_they_check():
    """The descriptions the checks tab shows, for the rules built per source or group."""
    described = {(r.name, r.description) for r in [rule(feature_rules(FEATURES["weather"]), "row_count_vs_upstream"),
                                                     rule(feature_rules(FEATURES["traffic"]), "null_fractions"),
                                                     *gps_rules()[1:3],
                                                     rule(raw_rules(SOURCES["deliveries"]), "unique_key")]}
    assert described == {
        ("row_count_vs_upstream", "One row per entity of raw weather, and not empty: an empty or missing upstream day "
                                  "must not pass as a quiet day."),
        ("null_fractions", "History columns (congestion_prev_1h, incidents_prev_1h) are null in at most 50% of rows; "
                           "early days have little history, so a person looks (WARN)."),
        ("times_in_partition_day", "Every event_ts falls inside the partition's UTC day: a re-sent earlier day or a "
                                   "timezone error puts rows outside it."),
        ("unique_key", "(vehicle_id, event_ts) identifies a row (duplicate share at most 0.01)."),
        ("unique_key", "(delivery_id) identifies a row (duplicate share at most 0.0)."),
    }
    # A source without a time column or rules of its own: the contract and its key only.
    assert [r.name for r in raw_rules(SOURCES["customers"])] == ["contract", "unique_key"]


def test_a_duplicate_share_is_shown_to_six_places(tmp_path):
    check = rule(raw_rules(SOURCES["deliveries"]), "unique_key")
    outcome = check.evaluate(raw(tmp_path, "deliveries", DAY, with_duplicates(deliveries(DAY, 2), 1)))
    assert shown(outcome) == (False, 0.333333, 0.0, "1 rows repeat a (delivery_id)")


def test_feature_rules_on_an_empty_day_and_a_one_row_day(tmp_path):
    rules = feature_rules(FEATURES["weather"])
    empty = weather_features_day(tmp_path / "empty", weather_features(DAY, rows=0))
    assert shown(rule(rules, "null_fractions").evaluate(empty)) == (
        False, 1.0, 0.5, "worst column precip_prev_3h_mm: 100.0% null")
    lake = tmp_path / "one"
    raw(lake, "weather", DAY, hourly(DAY, "weather").head(1))
    write(lake, "features/weather", DAY, weather_features(DAY, rows=1), FEATURES["weather"].arrow_schema)
    one = rule(rules, "row_count_vs_upstream").evaluate(Partition(Lake(root=str(lake)), "features/weather", DAY))
    assert shown(one)[:3] == (True, 1, 1)
    third = weather_features(DAY).assign(precip_prev_3h_mm=lambda f: f["precip_prev_3h_mm"].where(f.index % 3 != 0))
    outcome = rule(rules, "null_fractions").evaluate(weather_features_day(tmp_path / "third", third))
    assert (outcome.passed, outcome.value, outcome.extra) == (True, 0.3333, {"null_fractions": {"precip_prev_3h_mm": 0.3333}})


def test_feature_rules_at_the_start_of_history_and_without_their_upstream_day(tmp_path):
    rules = feature_rules(FEATURES["weather"])
    nulls = weather_features(DAY).assign(precip_prev_3h_mm=np.nan)
    first = weather_features_day(tmp_path / "first", nulls, days=[DAY])
    assert shown(rule(rules, "null_fractions").evaluate(first)) == (
        True, "no history yet", 0.5, "2026-11-08 is the first day of features/weather")
    half = weather_features(DAY).assign(precip_prev_3h_mm=lambda f: f["precip_prev_3h_mm"].where(f.index % 2 == 0))
    assert rule(rules, "null_fractions").evaluate(weather_features_day(tmp_path / "half", half)).passed  # 50%: the limit
    orphan = weather_features_day(tmp_path / "orphan", weather_features(DAY), upstream=False)
    assert shown(rule(rules, "row_count_vs_upstream").evaluate(orphan)) == (
        False, 24, 0, "24 rows for 0 upstream entities in raw weather (date=2026-11-08 missing)")
    empty = weather_features_day(tmp_path / "empty", weather_features(DAY, rows=0), upstream=False)
    assert shown(rule(rules, "row_count_vs_upstream").evaluate(empty)) == (
        False, 0, 0, "0 rows for 0 upstream entities in raw weather (date=2026-11-08 missing)")


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
    ("row_count", ml_day(), (20, 20, "20 rows for 20 deliveries"),
     ml_day(rows=15), (15, 20, "15 rows for 20 deliveries")),
    ("same_day_null_rates", ml_day(), (0.0, 0.05, "worst feature planned_distance_km: 0.0% null"),
     ml_day().assign(temp_c=np.nan), (1.0, 0.05, "worst feature temp_c: 100.0% null")),
    ("history_null_rates", ml_day(), (0.0, 0.5, "worst feature route_mean_delay_7d: 0.0% null"),
     ml_day().assign(veh_prev_ping_count=np.nan), (1.0, 0.5, "worst feature veh_prev_ping_count: 100.0% null")),
    ("label_range", ml_day(), (0, "labels in 1..600 min", "0 labels or estimates out of range among 20 delivered rows"),
     ml_day().assign(delivery_minutes=-3.0),
     (20, "labels in 1..600 min", "20 labels or estimates out of range among 20 delivered rows")),
    ("regions_known", ml_day(), (0, 0, "1 regions, each with weather and traffic"),
     pd.concat([ml_day(), ml_day(rows=3).assign(delivery_id=["D97", "D98", "D99"],
                                                region=["atlantis", "lemuria", "lemuria"], temp_c=np.nan,
                                                congestion_index=np.nan)], ignore_index=True),
     (2, 0, "3 deliveries in regions without weather or traffic: atlantis, lemuria")),
]


def ml_table_day(lake, frame: pd.DataFrame, days=(shift_day(DAY, -1), DAY), deliveries_rows: int = 20) -> Partition:
    raw(lake, "deliveries", DAY, deliveries(DAY, deliveries_rows))
    for day in days:
        write(lake, "ml_feature_table", day, frame)
    return Partition(Lake(root=str(lake)), "ml_feature_table", DAY)


@pytest.mark.parametrize(("name", "good", "good_shows", "bad", "bad_shows"), ML_CASES, ids=[c[0] for c in ML_CASES])
def test_ml_table_rules_pass_good_days_and_fail_bad_ones(tmp_path, graph, name, good, good_shows, bad, bad_shows):
    check = rule(ml_rules(), name)
    good_outcome = check.evaluate(ml_table_day(tmp_path / "good", good))
    assert shown(good_outcome) == (True, *good_shows)
    outcome = check.evaluate(ml_table_day(tmp_path / "bad", bad))
    assert shown(outcome) == (False, *bad_shows)
    assert_recorded_severity(graph, "ml_feature_table", check, outcome)


def test_null_rates_name_every_feature_and_judge_history_only_after_the_first_day(tmp_path):
    """Every feature's rate is in the metadata; on the first day history features are not judged,
    the day's own features are (they block)."""
    nulls = ml_day().assign(temp_c=np.nan, veh_prev_ping_count=np.nan)
    first = ml_table_day(tmp_path / "first", nulls, days=[DAY])
    assert shown(rule(ml_rules(), "history_null_rates").evaluate(first)) == (
        True, "no history yet", 0.5, "2026-11-08 is the first day of ml_feature_table")
    same_day = rule(ml_rules(), "same_day_null_rates").evaluate(first)
    assert shown(same_day) == (False, 1.0, 0.05, "worst feature temp_c: 100.0% null")
    assert same_day.extra["null_rates"] == {c: 1.0 if c == "temp_c" else 0.0 for c in [
        "planned_distance_km", "stop_sequence", "route_stops", "departure_hour", "weekday", "temp_c", "precip_mm",
        "wind_kph", "visibility_km", "weather_condition", "congestion_index", "incident_count"]}
    assert (rule(ml_rules(), "same_day_null_rates").description, rule(ml_rules(), "history_null_rates").description) == (
        "Each of planned_distance_km, stop_sequence, route_stops, departure_hour, weekday, temp_c, precip_mm, "
        "wind_kph, visibility_km, weather_condition, congestion_index, incident_count is null in at most 5% of rows: "
        "the day's own route, weather and traffic features must be there.",
        "Each of route_mean_delay_7d, veh_pace_28d, veh_prev_ping_count, veh_prev_mean_speed_kph, veh_prev_stop_count, "
        "veh_prev_distance_km, dock_type, avg_unload_min, cust_on_time_rate_28d, cust_mean_delay_28d is null in at "
        "most 50% of rows: history may be short early on, so a person looks (WARN).")
    one_in_twenty = ml_day().assign(temp_c=lambda f: f["temp_c"].where(f.index > 0))  # 5%: the limit
    limit = rule(ml_rules(), "same_day_null_rates").evaluate(ml_table_day(tmp_path / "limit", one_in_twenty))
    assert (limit.passed, limit.value, limit.extra["null_rates"]["temp_c"]) == (True, 0.05, 0.05)
    one_in_three = ml_day(rows=3).assign(temp_c=[np.nan, 1.0, 1.0])
    third = rule(ml_rules(), "same_day_null_rates").evaluate(ml_table_day(tmp_path / "third", one_in_three, deliveries_rows=3))
    assert (third.passed, third.value, third.extra["null_rates"]["temp_c"]) == (False, 0.3333, 0.3333)


def test_row_count_and_labels_at_their_limits(tmp_path):
    empty = ml_table_day(tmp_path / "empty", ml_day(rows=0), deliveries_rows=0)
    assert shown(rule(ml_rules(), "row_count").evaluate(empty))[:3] == (False, 0, 0)
    assert shown(rule(ml_rules(), "label_range").evaluate(empty))[:2] == (False, 0)  # nothing delivered
    labels = ml_day(rows=5).assign(delivery_minutes=[1.0, 600.0, 0.5, 601.0, 30.0],
                                   scheduled_minutes=[30.0, 0.0, 30.0, 30.0, 0.5])
    outcome = rule(ml_rules(), "label_range").evaluate(ml_table_day(tmp_path / "labels", labels, deliveries_rows=5))
    assert shown(outcome)[:2] == (False, 3)  # 0.5 and 601 minutes, and an estimate of 0 (0.5 is positive)
    one = ml_table_day(tmp_path / "one", ml_day(rows=1), deliveries_rows=1)
    assert shown(rule(ml_rules(), "row_count").evaluate(one)) == (True, 1, 1, "1 rows for 1 deliveries")
    cancelled = ml_day(rows=2).assign(status=["delivered", "cancelled"], delivery_minutes=[30.0, np.nan])
    outcome = rule(ml_rules(), "label_range").evaluate(ml_table_day(tmp_path / "cancelled", cancelled, deliveries_rows=2))
    assert shown(outcome) == (True, 0, "labels in 1..600 min", "0 labels or estimates out of range among 1 delivered rows")
