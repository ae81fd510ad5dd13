"""The dbt project that builds ml_feature_table, run for real (dbtRunner, DuckDB) on a tiny lake.

The lake is written by hand so every expected value is known: day D has four deliveries of
every status, the vehicles' GPS of D-1 and of D differ, and weather and traffic exist for the
departure hours and for later ones. Each test rewrites the same lake folder, so one `dbt parse`
(the vars, and with them the source paths, never change) serves every build.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt.cli.main import dbtRunner

from dagster_dbt import DbtCliResource

from meridian_assets.dbt_project import meridian_dbt_project
from meridian_assets.defs.ml_table.assets import dbt_environment, environment

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"

PREV, D, NEXT = "2026-11-01", "2026-11-02", "2026-11-03"
OUTSIDE = "2027-01-01"  # a day outside every window: it holds a corrupt file

OUTPUT_COLUMNS = [
    "delivery_id", "date", "vehicle_id", "route_id", "customer_id", "region", "status",
    "scheduled_departure_ts", "scheduled_minutes", "delivery_minutes", "planned_distance_km",
    "stop_sequence", "route_stops", "departure_hour", "weekday", "route_mean_delay_7d",
    "route_deliveries_7d", "veh_pace_28d", "veh_deliveries_28d", "region_hour_mean_delay_28d",
    "veh_prev_ping_count", "veh_prev_mean_speed_kph", "veh_prev_p95_speed_kph",
    "veh_prev_moving_fraction", "veh_prev_idle_fraction", "veh_prev_stop_count",
    "veh_prev_distance_km", "veh_prev_longest_gap_min", "veh_prev_active_hours_fraction",
    "temp_c", "precip_mm", "wind_kph", "visibility_km", "weather_condition", "precip_prev_3h_mm",
    "congestion_index", "incident_count", "congestion_prev_1h",
    "dock_type", "requires_appointment", "avg_unload_min", "cust_on_time_rate_28d",
    "cust_deliveries_28d", "cust_mean_delay_28d",
]
GPS_COLUMNS = [
    "ping_count", "mean_speed_kph", "p95_speed_kph", "moving_fraction", "idle_fraction",
    "stop_count", "distance_km", "longest_gap_min", "active_hours_fraction",
]
VEH_PREV = [f"veh_prev_{c}" for c in GPS_COLUMNS]


def ts(day: str, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    y, m, d = map(int, day.split("-"))
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


UTC_US = pa.timestamp("us", tz="UTC")


def delivery(delivery_id, vehicle, route, customer, region, stop, dep, arr, act_dep, act_arr, status):
    return {
        "delivery_id": delivery_id, "vehicle_id": vehicle, "route_id": route,
        "customer_id": customer, "region": region, "stop_sequence": stop,
        "planned_distance_km": 10.0 + stop, "scheduled_departure_ts": dep,
        "scheduled_arrival_ts": arr, "actual_departure_ts": act_dep,
        "actual_arrival_ts": act_arr, "status": status,
    }


# Day D: one delivery of each status, plus one whose vehicle, customer and region have no features.
DELIVERIES_D = [
    delivery("d1", "v1", "r1", "c1", "north", 1, ts(D, 8, 20), ts(D, 9, 5),
             ts(D, 8, 25), ts(D, 9, 15, 30), "delivered"),
    delivery("d2", "v2", "r2", "c2", "south", 1, ts(D, 13), ts(D, 13, 30),
             ts(D, 13, 10), None, "failed"),
    delivery("d3", "v1", "r1", "c1", "north", 2, ts(D, 9, 59), ts(D, 10, 41),
             None, None, "cancelled"),
    delivery("d4", "v9", "r9", "c9", "east", 1, ts(D, 23, 30), ts(D, 23, 50),
             ts(D, 23, 31), ts(D, 23, 52), "delivered"),
]
DELIVERY_SCHEMA = pa.schema([
    ("delivery_id", pa.string()), ("vehicle_id", pa.string()), ("route_id", pa.string()),
    ("customer_id", pa.string()), ("region", pa.string()), ("stop_sequence", pa.int64()),
    ("planned_distance_km", pa.float64()), ("scheduled_departure_ts", UTC_US),
    ("scheduled_arrival_ts", UTC_US), ("actual_departure_ts", UTC_US),
    ("actual_arrival_ts", UTC_US), ("status", pa.string()),
])


def gps_row(vehicle: str, base: float) -> dict:
    return {
        "vehicle_id": vehicle, "ping_count": int(base * 100), "mean_speed_kph": base + 0.5,
        "p95_speed_kph": base + 30.25, "moving_fraction": base / 100, "idle_fraction": base / 1000,
        "stop_count": int(base) // 2, "distance_km": base * 5, "longest_gap_min": base / 4,
        "active_hours_fraction": base / 200,
    }


GPS_PREV = [gps_row("v1", 40.0), gps_row("v2", 60.0)]
GPS_SAME_DAY = [gps_row("v1", 90.0), gps_row("v2", 95.0)]  # after dispatch: must never appear


def hourly(region: str, day: str, hour: int, value: float) -> tuple[dict, dict]:
    """One weather and one traffic observation; `value` makes each hour's numbers distinct."""
    weather = {
        # written without a zone: the contract reads it as UTC
        "region": region, "observed_ts": ts(day, hour).replace(tzinfo=None),
        "temp_c": value, "precip_mm": value / 10, "wind_kph": value * 2,
        "visibility_km": value / 2, "condition": "rain" if hour % 2 else "clear",
        "precip_prev_3h_mm": value / 5,
    }
    traffic = {
        "region": region, "observed_ts": ts(day, hour), "congestion_index": value / 100,
        "incident_count": hour, "congestion_prev_1h": value / 200, "incidents_prev_1h": hour - 1,
    }
    return weather, traffic


HOURS_D = [("north", 8, 11.0), ("north", 9, 12.0), ("north", 10, 13.0),
           ("south", 12, 21.0), ("south", 13, 22.0), ("south", 14, 23.0)]

CUSTOMERS_D = [
    {"customer_id": "c1", "region": "north", "dock_type": "dock", "requires_appointment": True,
     "avg_unload_min": 14.5, "on_time_rate_28d": 0.75, "deliveries_28d": 20, "mean_delay_28d": 6.5},
    {"customer_id": "c2", "region": "south", "dock_type": "liftgate", "requires_appointment": False,
     "avg_unload_min": 22.0, "on_time_rate_28d": 0.5, "deliveries_28d": 8, "mean_delay_28d": None},
]


def write(lake: Path, table: str, day: str, rows: list[dict], schema: pa.Schema | None = None) -> None:
    folder = lake / table / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-0.parquet")


def write_lake(lake: Path) -> None:
    """The base lake: D-1, D and D+1, plus a corrupt file outside the window in every table."""
    shutil.rmtree(lake, ignore_errors=True)
    write(lake, "raw/deliveries", PREV, [
        delivery("d0", "v1", "r1", "c1", "north", 1, ts(PREV, 8), ts(PREV, 9),
                 ts(PREV, 8), ts(PREV, 9), "delivered")], DELIVERY_SCHEMA)
    write(lake, "raw/deliveries", D, DELIVERIES_D, DELIVERY_SCHEMA)
    write(lake, "raw/deliveries", NEXT, [
        delivery("d5", "v1", "r1", "c1", "north", 1, ts(NEXT, 8), ts(NEXT, 9),
                 ts(NEXT, 8), ts(NEXT, 9), "delivered")], DELIVERY_SCHEMA)

    write(lake, "features/gps", PREV, GPS_PREV)
    write(lake, "features/gps", D, GPS_SAME_DAY)

    write(lake, "features/route", D, [
        {"delivery_id": d["delivery_id"], "route_id": d["route_id"], "vehicle_id": d["vehicle_id"],
         "customer_id": d["customer_id"], "region": d["region"],
         "scheduled_departure_ts": d["scheduled_departure_ts"],
         "planned_distance_km": d["planned_distance_km"], "stop_sequence": d["stop_sequence"],
         "route_stops": 2, "scheduled_minutes": 0.0,
         "departure_hour": d["scheduled_departure_ts"].hour, "weekday": 2,
         "route_mean_delay_7d": 3.5 * i, "route_deliveries_7d": 7 * i, "veh_pace_28d": 1.0 + i / 10,
         "veh_deliveries_28d": 9 * i, "region_hour_mean_delay_28d": 2.5 * i}
        for i, d in enumerate(DELIVERIES_D, start=1)
    ])

    weather, traffic = zip(*(hourly(region, D, hour, v) for region, hour, v in HOURS_D))
    write(lake, "features/weather", D, list(weather))
    write(lake, "features/traffic", D, list(traffic))

    write(lake, "features/customer", PREV, [
        {**c, "avg_unload_min": 99.0, "on_time_rate_28d": 0.01} for c in CUSTOMERS_D])
    write(lake, "features/customer", D, CUSTOMERS_D)

    for table in ("raw/deliveries", "features/gps", "features/route", "features/weather",
                  "features/traffic", "features/customer"):
        folder = lake / table / f"date={OUTSIDE}"
        folder.mkdir(parents=True)
        (folder / "part-0.parquet").write_bytes(b"not parquet: a build that opens this fails")


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dbt_build")
    return {"lake": root / "lake", "output": root / "out" / "ml_feature_table.parquet",
            "target": root / "target", "logs": root / "logs"}


@pytest.fixture(scope="module")
def dbt_env(paths):
    """The build's window in the environment, as the Dagster asset sets it."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in dbt_environment(D, D, paths["lake"], paths["output"]).items():
            patch.setenv(name, value)
        yield


def dbt_args(command: str, paths: dict[str, Path]) -> list[str]:
    return [command, "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
            "--target-path", str(paths["target"]), "--log-path", str(paths["logs"])]


@pytest.fixture(scope="module")
def manifest(paths, dbt_env):
    """One `dbt parse` for the module: sources render their paths from this same environment."""
    result = dbtRunner().invoke(dbt_args("parse", paths))
    assert result.success, result.exception
    return result.result


@pytest.fixture
def lake(paths) -> Path:
    write_lake(paths["lake"])
    paths["output"].parent.mkdir(parents=True, exist_ok=True)
    paths["output"].unlink(missing_ok=True)
    return paths["lake"]


def build(manifest, paths):
    return dbtRunner(manifest=manifest).invoke(dbt_args("build", paths))


def build_rows(manifest, paths) -> pd.DataFrame:
    result = build(manifest, paths)
    failed = [r.node.name for r in (result.result or []) if r.status not in ("success", "pass")]
    assert result.success, (result.exception, failed)
    return pd.read_parquet(paths["output"]).set_index("delivery_id", drop=False)


def test_parse_declares_sources_as_dagster_assets(manifest):
    asset_keys = {
        source.name: source.meta["dagster"]["asset_key"] for source in manifest.sources.values()
    }
    assert asset_keys == {
        "deliveries": ["raw_deliveries"], "gps": ["gps_features"], "route": ["route_features"],
        "weather": ["weather_features"], "traffic": ["traffic_features"],
        "customer": ["customer_features"],
    }
    model = manifest.nodes["model.meridian.ml_feature_table"]
    assert model.config.materialized == "external"
    assert model.tags == ["ml_features"]
    # Staging is inlined (macros), so the lineage runs straight from the six sources.
    assert sorted(model.depends_on.nodes) == sorted(manifest.sources)


def test_one_row_per_delivery_of_the_day_with_point_in_time_features(manifest, paths, lake):
    rows = build_rows(manifest, paths)

    assert list(rows.columns) == OUTPUT_COLUMNS
    # every status of D, nothing of D-1 or D+1 (and the corrupt files outside were never opened)
    assert sorted(rows.index) == ["d1", "d2", "d3", "d4"]
    assert {str(d) for d in rows["date"]} == {D}
    assert rows["status"].to_dict() == {"d1": "delivered", "d2": "failed", "d3": "cancelled", "d4": "delivered"}
    assert rows.loc["d1", "scheduled_departure_ts"] == pd.Timestamp("2026-11-02 08:20", tz="UTC")

    # label and baseline
    assert rows["scheduled_minutes"].to_dict() == {"d1": 45.0, "d2": 30.0, "d3": 42.0, "d4": 20.0}
    assert rows.loc["d1", "delivery_minutes"] == 50.5
    assert rows.loc["d4", "delivery_minutes"] == 21.0
    assert rows.loc[["d2", "d3"], "delivery_minutes"].isna().all()

    # deliveries columns and route features
    assert rows.loc["d3", ["vehicle_id", "route_id", "customer_id", "region"]].tolist() == ["v1", "r1", "c1", "north"]
    assert rows.loc["d3", ["stop_sequence", "planned_distance_km"]].tolist() == [2, 12.0]
    assert rows.loc["d3", ["route_stops", "departure_hour", "weekday"]].tolist() == [2, 9, 2]
    assert rows["route_mean_delay_7d"].to_dict() == {"d1": 3.5, "d2": 7.0, "d3": 10.5, "d4": 14.0}
    assert rows["route_deliveries_7d"].to_dict() == {"d1": 7, "d2": 14, "d3": 21, "d4": 28}
    assert rows[["veh_pace_28d", "veh_deliveries_28d", "region_hour_mean_delay_28d"]].loc["d3"].tolist() == [1.3, 27, 7.5]

    # the vehicle's previous day, never its own day
    prev = {g["vehicle_id"]: g for g in GPS_PREV}
    for delivery_id, vehicle in [("d1", "v1"), ("d2", "v2"), ("d3", "v1")]:
        assert rows.loc[delivery_id, VEH_PREV].tolist() == [prev[vehicle][c] for c in GPS_COLUMNS]
    assert rows.loc["d4", VEH_PREV].isna().all()  # v9 has no GPS
    same_day_values = {v for g in GPS_SAME_DAY for k, v in g.items() if k != "vehicle_id"}
    assert not same_day_values & set(rows[VEH_PREV].stack().tolist())

    # weather and traffic of the departure hour (09:59 is still the 09:00 hour)
    weather = ["temp_c", "precip_mm", "wind_kph", "visibility_km", "weather_condition", "precip_prev_3h_mm"]
    assert rows.loc["d1", weather].tolist() == [11.0, 1.1, 22.0, 5.5, "clear", 2.2]
    assert rows.loc["d3", weather].tolist() == [12.0, 1.2, 24.0, 6.0, "rain", 2.4]
    assert rows.loc["d2", weather].tolist() == [22.0, 2.2, 44.0, 11.0, "rain", 4.4]
    traffic = ["congestion_index", "incident_count", "congestion_prev_1h"]
    assert rows.loc["d1", traffic].tolist() == [0.11, 8, 0.055]
    assert rows.loc["d3", traffic].tolist() == [0.12, 9, 0.06]
    assert rows.loc["d2", traffic].tolist() == [0.22, 13, 0.11]
    assert rows.loc["d4", weather + traffic].isna().all()  # no observations for east

    # the customer snapshot of D (not D-1's)
    customer = ["dock_type", "requires_appointment", "avg_unload_min", "cust_on_time_rate_28d", "cust_deliveries_28d",
                "cust_mean_delay_28d"]
    assert rows.loc["d1", customer].tolist() == ["dock", True, 14.5, 0.75, 20, 6.5]
    assert rows.loc["d2", customer].iloc[:-1].tolist() == ["liftgate", False, 22.0, 0.5, 8]
    assert pd.isna(rows.loc["d2", "cust_mean_delay_28d"])
    assert rows.loc["d4", customer].isna().all()


def test_data_after_dispatch_does_not_change_the_rows(manifest, paths, lake):
    before = build_rows(manifest, paths)

    write(lake, "features/gps", D, [gps_row("v1", 1.0), gps_row("v2", 2.0), gps_row("v9", 3.0)])
    later_weather, later_traffic = zip(*(
        hourly(region, D, hour, v) for region, hour, v in
        [("north", 8, 11.0), ("north", 9, 12.0), ("north", 10, -5.0), ("north", 11, -6.0),
         ("south", 12, 21.0), ("south", 13, 22.0), ("south", 14, -7.0)]))
    write(lake, "features/weather", D, list(later_weather))
    write(lake, "features/traffic", D, list(later_traffic))
    write(lake, "features/gps", NEXT, [gps_row("v1", 5.0)])

    after = build_rows(manifest, paths)
    pd.testing.assert_frame_equal(after, before)


def test_missing_previous_day_gps_gives_nulls(manifest, paths, lake):
    shutil.rmtree(lake / "features/gps" / f"date={PREV}")

    rows = build_rows(manifest, paths)

    assert sorted(rows.index) == ["d1", "d2", "d3", "d4"]
    assert rows[VEH_PREV].isna().all().all()
    assert rows.loc["d1", "temp_c"] == 11.0 and rows.loc["d1", "delivery_minutes"] == 50.5


def test_a_range_build_gives_each_day_its_own_previous_day(manifest, paths, lake, monkeypatch):
    """Backfills build several days at once: D+1's deliveries see D's GPS, D's see D-1's. Built
    in the target where the module parsed day D alone: dbt parses partially (as in every Dagster
    run) and must still see the new window in the environment."""
    write(lake, "features/route", NEXT, [
        {"delivery_id": "d5", "route_stops": 1, "departure_hour": 8, "weekday": 3,
         "route_mean_delay_7d": 1.0, "route_deliveries_7d": 1}])
    weather, traffic = hourly("north", NEXT, 8, 31.0)
    write(lake, "features/weather", NEXT, [weather])
    write(lake, "features/traffic", NEXT, [traffic])
    write(lake, "features/customer", NEXT, CUSTOMERS_D)
    for name, value in dbt_environment(D, NEXT, lake, paths["output"]).items():
        monkeypatch.setenv(name, value)
    assert (paths["target"] / "partial_parse.msgpack").exists()

    result = dbtRunner().invoke(dbt_args("build", paths))  # a partial parse for the new window

    assert result.success, result.exception
    rows = pd.read_parquet(paths["output"]).set_index("delivery_id")
    assert sorted(rows.index) == ["d1", "d2", "d3", "d4", "d5"]
    assert {k: str(v) for k, v in rows["date"].items()} == {"d1": D, "d2": D, "d3": D, "d4": D, "d5": NEXT}
    v1_prev, v1_same_day = GPS_PREV[0], GPS_SAME_DAY[0]
    assert rows.loc["d1", VEH_PREV].tolist() == [v1_prev[c] for c in GPS_COLUMNS]
    assert rows.loc["d5", VEH_PREV].tolist() == [v1_same_day[c] for c in GPS_COLUMNS]
    assert rows.loc["d5", ["temp_c", "route_mean_delay_7d", "dock_type"]].tolist() == [31.0, 1.0, "dock"]


def test_a_day_without_deliveries_writes_one_all_null_row(manifest, paths, lake):
    """dbt-duckdb's external materialization never writes an empty file: it writes one row of
    nulls instead (its view over the file filters it out, so the dbt tests see no rows). Whoever
    splits the file into date= partitions must drop rows without a delivery_id."""
    write(lake, "raw/deliveries", D, [], DELIVERY_SCHEMA)

    result = build(manifest, paths)

    assert result.success, result.exception
    rows = pd.read_parquet(paths["output"])
    assert list(rows.columns) == OUTPUT_COLUMNS
    assert len(rows) == 1 and rows.isna().all(axis=None)


def test_delivered_row_without_arrival_fails_the_build(manifest, paths, lake):
    broken = [{**DELIVERIES_D[0], "actual_arrival_ts": None}, *DELIVERIES_D[1:]]
    write(lake, "raw/deliveries", D, broken, DELIVERY_SCHEMA)

    result = build(manifest, paths)

    assert not result.success
    failed = {r.node.name for r in result.result if r.status == "fail"}
    assert failed == {"ml_feature_table_label_only_when_delivered"}


def test_duplicated_delivery_fails_the_build(manifest, paths, lake):
    write(lake, "raw/deliveries", D, DELIVERIES_D + DELIVERIES_D[:1], DELIVERY_SCHEMA)

    result = build(manifest, paths)

    assert not result.success
    failed = {r.node.name for r in result.result if r.status == "fail"}
    assert failed == {"unique_ml_feature_table_delivery_id"}


@pytest.mark.parametrize(("table", "rows", "schema", "failing_test"), [
    ("raw/deliveries", [*DELIVERIES_D[:2], {**DELIVERIES_D[2], "status": "lost"}, DELIVERIES_D[3]], DELIVERY_SCHEMA,
     "accepted_values_ml_feature_table_status__delivered__cancelled__failed"),
    ("raw/deliveries", [DELIVERIES_D[0], {**DELIVERIES_D[1], "scheduled_arrival_ts": None}, *DELIVERIES_D[2:]],
     DELIVERY_SCHEMA, "not_null_ml_feature_table_scheduled_minutes"),
    ("features/customer", [CUSTOMERS_D[0], {**CUSTOMERS_D[1], "dock_type": "ramp"}], None,
     "accepted_values_ml_feature_table_dock_type__ground__dock__liftgate"),
], ids=["status", "scheduled_minutes", "dock_type"])
def test_a_value_outside_the_schema_fails_its_dbt_test(manifest, paths, lake, table, rows, schema, failing_test):
    """CHECKS.md: the accepted values of status and dock_type, and a dispatcher baseline on every row."""
    write(lake, table, D, rows, schema)

    result = build(manifest, paths)

    assert not result.success
    assert {r.node.name for r in result.result if r.status == "fail"} == {failing_test}


def test_a_delivery_missing_from_raw_deliveries_fails_the_relationships_test(manifest, paths, lake):
    """The table's deliveries all exist in raw deliveries: here d4 is dropped from the raw drop
    after the table was built, and the tests run again on the built table."""
    build_rows(manifest, paths)
    write(lake, "raw/deliveries", D, DELIVERIES_D[:3], DELIVERY_SCHEMA)

    result = dbtRunner(manifest=manifest).invoke(dbt_args("test", paths))

    assert not result.success
    assert {r.node.name for r in result.result if r.status == "fail"} == {
        "relationships_ml_feature_table_delivery_id__delivery_id__source_raw_deliveries_",
        "ml_feature_table_one_row_per_delivery",
    }


def test_missing_same_day_feature_partition_fails_naming_it(manifest, paths, lake):
    shutil.rmtree(lake / "features/customer" / f"date={D}")

    result = build(manifest, paths)

    assert not result.success
    errors = " ".join(str(r.message) for r in result.result if r.status == "error")
    assert f"features/customer/date={D}" in errors


def test_a_new_window_parses_partially_as_the_asset_runs_dbt(tmp_path):
    """Through dagster-dbt, with the window in the environment as the asset sets it: dbt reuses
    the project's partial parse (`--vars` would make it re-parse everything on every run: dbt
    says "Unable to do partial parsing", as it did when tried; not re-proven here, it costs 15 s)."""
    dbt = DbtCliResource(project_dir=meridian_dbt_project)
    with environment(dbt_environment(NEXT, NEXT, tmp_path / "lake", tmp_path / "out.parquet")):
        invocation = dbt.cli(["parse"], target_path=tmp_path / "target")
    messages = [event.raw_event["info"]["msg"] for event in invocation.stream_raw_events()]
    assert invocation.is_successful()
    assert not any("Unable to do partial parsing" in m for m in messages), messages
