"""The code location as a newcomer sees it: keys, groups, lineage, checks. A refactor that
changes the graph has to change this file too."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import dagster as dg
from meridian_assets.definitions import defs
from meridian_assets.defs.ml_table.assets import dbt_environment
from meridian_assets.defs.ml.provenance import CHECK
from meridian_assets.partitions import daily_partitions
from meridian_assets.synthetic import write_day

PROJECT = Path(__file__).resolve().parents[1]

GROUPS = {
    "landing": {"landing/gps", "landing/deliveries", "landing/weather", "landing/traffic", "landing/customers"},
    "raw_ingestion": {"raw_gps_telemetry", "raw_deliveries", "raw_weather", "raw_traffic", "raw_customers"},
    "features": {"gps_features", "route_features", "weather_features", "traffic_features", "customer_features"},
    "ml_ready": {"ml_feature_table"},
    "ml": {"delivery_time_model", "deployed_model"},
}

# (upstream, downstream, partition window relative to D)
EDGES = {
    ("landing/gps", "raw_gps_telemetry", "D"),
    ("landing/deliveries", "raw_deliveries", "D"),
    ("landing/weather", "raw_weather", "D"),
    ("landing/traffic", "raw_traffic", "D"),
    ("landing/customers", "raw_customers", "D"),
    ("raw_gps_telemetry", "gps_features", "D"),
    ("raw_deliveries", "route_features", "D-28..D"),
    ("raw_weather", "weather_features", "D-1..D"),
    ("raw_traffic", "traffic_features", "D-1..D"),
    ("raw_customers", "customer_features", "D-1"),
    ("raw_deliveries", "customer_features", "D-28..D-1"),
    ("gps_features", "ml_feature_table", "D-1"),
    ("route_features", "ml_feature_table", "D"),
    ("weather_features", "ml_feature_table", "D"),
    ("traffic_features", "ml_feature_table", "D"),
    ("customer_features", "ml_feature_table", "D"),
    ("raw_deliveries", "ml_feature_table", "D"),
    ("ml_feature_table", "delivery_time_model", "D-28..D"),
    ("delivery_time_model", "deployed_model", "D"),
}


def _window(mapping) -> str:
    if mapping is None or not hasattr(mapping, "start_offset"):
        return "D"

    def day(offset: int) -> str:
        return "D" if offset == 0 else f"D{offset:+d}"

    start, end = day(mapping.start_offset), day(mapping.end_offset)
    return start if start == end else f"{start}..{end}"


def test_assets_groups_and_partitions():
    graph = defs().resolve_asset_graph()
    found: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        found.setdefault(node.group_name, set()).add(key.to_user_string())
        assert node.partitions_def == daily_partitions, key
        assert node.description, key
        assert node.owners, key
        assert node.kinds, key
    assert found == GROUPS


def test_lineage_runs_from_raw_to_deployment_with_named_windows():
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    edges = set()
    for assets_def in graph.assets_defs:
        for key, spec in assets_def.specs_by_key.items():
            for dep in spec.deps:
                edges.add((dep.asset_key.to_user_string(), key.to_user_string(), _window(dep.partition_mapping)))
    assert edges == EDGES


def test_every_check_is_described_and_the_gates_block():
    graph = defs().resolve_asset_graph()
    checks = {}
    for key in graph.get_all_asset_keys():
        for check_key in graph.get_check_keys_for_assets({key}):
            spec = graph.get_check_spec(check_key)
            assert spec.description and len(spec.description) > 20, check_key
            checks[(key.to_user_string(), check_key.name)] = spec.blocking
    assert checks[("delivery_time_model", "evaluation_gate")] is True
    assert checks[("raw_gps_telemetry", "not_a_copy")] is True
    assert checks[("ml_feature_table", "feature_drift")] is True
    assert checks[("ml_feature_table", "history_null_rates")] is False
    assert checks[("ml_feature_table", "unique_ml_feature_table_delivery_id")] is True  # a dbt test
    for asset in GROUPS["raw_ingestion"] | GROUPS["features"]:
        assert (asset, "contract") in checks, asset


def test_every_check_judges_partitions_but_freshness_and_provenance():
    """A check without partitioning shows no partition in the UI's checks tab (dbt tests had none).
    Two judge no day: freshness the clock, trained_on_current_data the model in production now."""
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        for check_key in graph.get_check_keys_for_assets({key}):
            spec = graph.get_check_spec(check_key)
            assert (spec.partitions_def == daily_partitions) == (check_key.name not in {"freshness_check", CHECK}), check_key


def test_resources_default_to_the_embedded_setup(monkeypatch):
    for name in ("MERIDIAN_LANDING", "MERIDIAN_LAKE", "MERIDIAN_SPARK_MASTER", "MERIDIAN_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    definitions = defs()
    with dg.build_resources({k: definitions.resources[k] for k in ("landing", "lake")}) as res:
        assert res.landing.uri == "./data/landing"
        assert res.lake.path == Path("./data/lake").resolve()
    assert definitions.resources["pyspark"].spark_config["spark.master"] == "local[*]"
    assert definitions.executor == dg.in_process_executor


@pytest.mark.parametrize(("variable", "value", "refused"), [
    ("MERIDIAN_LAKE", "gs://meridian-lake/prod", "not gs://"),
    ("MERIDIAN_LAKE", "s3://Meridian_Lake/prod", "not an S3 bucket name"),
    ("MERIDIAN_LANDING", "s3://meridian-drops/../other-team", "'..' are not allowed"),
    ("MERIDIAN_LAKE", "/data/lake'; DROP TABLE x; --", "quote, brace"),
    ("MERIDIAN_LAKE_WORKING_COPY", "/scratch/{{ env_var('AWS_SECRET_ACCESS_KEY') }}", "quote, brace"),
])
def test_a_location_that_is_not_a_folder_or_s3_prefix_is_refused_before_use(monkeypatch, variable, value, refused):
    monkeypatch.setenv(variable, value)
    definitions = defs()
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        with dg.build_resources({k: definitions.resources[k] for k in ("landing", "lake")}):
            pass
    assert refused in str(raised.value.__cause__) and value in str(raised.value.__cause__)


def test_resources_read_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MERIDIAN_LANDING", "s3://meridian-drops/vendor")
    monkeypatch.setenv("MERIDIAN_LAKE", str(tmp_path))
    definitions = defs()
    with dg.build_resources({k: definitions.resources[k] for k in ("landing", "lake")}) as res:
        assert res.landing.uri == "s3://meridian-drops/vendor" and res.landing.is_s3
        assert res.lake.path == tmp_path

    # The Spark master reaches the session's settings (an EnvVar inside spark_config was once
    # passed on unresolved, and Spark silently stayed on local[*]).
    monkeypatch.setenv("MERIDIAN_SPARK_MASTER", "spark://127.0.0.1:7077")
    assert defs().resources["pyspark"].spark_config["spark.master"] == "spark://127.0.0.1:7077"


def test_each_sensor_ticks_at_its_own_interval_or_the_one_the_environment_sets():
    """README's automation tables. MERIDIAN_SENSOR_INTERVAL_SECONDS is read when the location
    loads, so its effect is seen in a fresh process; Dagster's freshness sensor keeps its own."""
    assert {s.name: s.minimum_interval_seconds for s in defs().sensors} == {
        "landing_sensor": 30, "downstream_automation": 30, "alert_sensor": 20, "training_data_sensor": 60,
        "freshness_checks_sensor": 30}
    listing = "import json; from meridian_assets.definitions import defs; " \
              "print(json.dumps({s.name: s.minimum_interval_seconds for s in defs().sensors}))"
    loaded = subprocess.run([sys.executable, "-c", listing], cwd=PROJECT, capture_output=True, text=True,
                            env={**os.environ, "MERIDIAN_SENSOR_INTERVAL_SECONDS": "7"}, timeout=300, check=True)
    assert json.loads(loaded.stdout.splitlines()[-1]) == {
        "landing_sensor": 7, "downstream_automation": 7, "alert_sensor": 7, "training_data_sensor": 7,
        "freshness_checks_sensor": 30}


def test_dbt_environment_carries_the_partition_window():
    assert dbt_environment("2026-11-01", "2026-11-03", Path("/lake"), Path("/lake/out.parquet")) == {
        "MERIDIAN_DBT_START_DATE": "2026-11-01", "MERIDIAN_DBT_END_DATE": "2026-11-03",
        "MERIDIAN_DBT_LAKE": "/lake", "MERIDIAN_DBT_OUTPUT": "/lake/out.parquet", "MERIDIAN_DBT_GPS_DAY_OFFSET": "-1",
    }


@pytest.mark.parametrize(("start", "end", "lake", "refused"), [
    ("2026-11-01' OR 1=1 --", "2026-11-01", "/lake", "not a YYYY-MM-DD date"),
    ("2026-11-01", "2026-02-30", "/lake", "not a calendar date"),
    ("2026-11-01", "2026-11-01", "/lake'; COPY x TO '/etc/y", "quote, brace or control character"),
    ("2026-11-01", "2026-11-01", "/lake/{{ env_var('AWS_SECRET_ACCESS_KEY') }}", "quote, brace or control character"),
])
def test_dbt_variables_that_are_not_days_or_plain_paths_never_reach_sql(start, end, lake, refused):
    with pytest.raises(ValueError, match=refused):
        dbt_environment(start, end, Path(lake), Path("/out.parquet"))


def test_the_landing_drops_stand_upstream_as_the_vendors_write_them(monkeypatch):
    monkeypatch.setenv("MERIDIAN_LANDING", "s3://meridian-drops/vendor")
    node = defs().resolve_asset_graph().get(dg.AssetKey(["landing", "gps"]))
    assert not node.is_materializable
    assert node.kinds == {"s3"} and node.metadata["dagster/uri"] == "s3://meridian-drops/vendor/gps"
    assert "CONTRACT.md" in node.description


def test_every_asset_links_its_code_and_python_assets_version_it():
    graph = defs().resolve_asset_graph()
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        assert node.code_version, key  # dagster-dbt versions the model from its SQL
        (reference,) = node.metadata["dagster/code_references"].code_references
        assert Path(reference.file_path).is_file(), key
    assert graph.get(dg.AssetKey("ml_feature_table")).metadata["dagster/table_name"] == "lake.ml_feature_table"


def test_code_references_point_at_the_repository_when_one_is_configured(monkeypatch):
    monkeypatch.setenv("MERIDIAN_GIT_URL", "https://github.com/meridian-freight/platform")
    node = defs().resolve_asset_graph().get(dg.AssetKey("gps_features"))
    (reference,) = node.metadata["dagster/code_references"].code_references
    assert reference.url.startswith("https://github.com/meridian-freight/platform/tree/main/meridian_assets/defs/features/")


def test_the_cli_prints_no_warning_and_dg_checks_the_location_without_the_venv_on_path(tmp_path):
    """A newcomer's commands: `meridian status` says nothing on stderr, and `dg check defs` loads the
    location with the venv not activated (dbt is found beside the interpreter, not on PATH)."""
    shutil.copy(PROJECT / "dagster.yaml", tmp_path / "dagster.yaml")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path),
           "MERIDIAN_LAKE": str(tmp_path / "lake"), "MERIDIAN_LANDING": str(tmp_path / "landing")}
    status = subprocess.run([sys.executable, "-m", "meridian_assets.cli", "status", "2026-11-01", "2026-11-02"],
                            cwd=PROJECT, env=env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and status.stderr == "", status.stderr
    check = subprocess.run([str(Path(sys.executable).with_name("dg")), "check", "defs"], cwd=PROJECT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert "All definitions loaded successfully." in check.stdout + check.stderr


def test_dg_launch_materializes_a_day_and_exits_1_when_its_step_fails(tmp_path):
    """README: other programs run `dg launch --assets ... --partition D` in this folder; it runs in
    process, and its exit code says whether the day was built (ARCHITECTURE: 1 when it fails)."""
    shutil.copy(PROJECT / "dagster.yaml", tmp_path / "dagster.yaml")
    good, bad = "2026-11-02", "2026-11-03"
    for day in (good, bad):
        write_day(tmp_path / "landing", day, vehicles=5, seed=3)
    weather = tmp_path / "landing" / "weather" / bad / "part-00000.parquet"
    pq.write_table(pq.read_table(weather).drop_columns(["temp_c"]), weather)  # breaks the contract
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "MERIDIAN_LAKE": str(tmp_path / "lake"),
           "MERIDIAN_LANDING": str(tmp_path / "landing")}

    def launch(day: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(Path(sys.executable).with_name("dg")), "launch", "--assets", "raw_weather",
                               "--partition", day], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)

    built, failed = launch(good), launch(bad)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    assert failed.returncode == 1, failed.stdout[-2000:] + failed.stderr[-2000:]
    assert "temp_c" in failed.stdout + failed.stderr, "the failure names the missing column"
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    assert instance.get_materialized_partitions(dg.AssetKey("raw_weather")) == {good}
    instance.dispose()
