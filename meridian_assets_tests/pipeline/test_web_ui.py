"""The web UI tells the truth at a glance: dagster-webserver over the story's instance, read through
its GraphQL API and in Chromium as a person reads it.

After the eight good days: day 9 trains, and its candidate is held back by the evaluation gate (a
model that already knows day 9 is deployed); day 10's GPS drop covers a third of the fleet, so its
checks fail and stop what reads day 10 (launched as `make run` launches a day), the ml table of
day 11 included. (What the next day does, and how a re-delivery heals it: test_bad_days.py and
automation/test_conditions.py.)
Screenshots land in test-artifacts/ui/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

import dagster as dg
from meridian_assets.lake import Lake
from meridian_assets import cli
from meridian_assets.dbt_project import meridian_dbt_project
from meridian_assets.definitions import defs
from meridian_assets.defs.automation.jobs import backfill_job, stage_jobs
from meridian_assets.defs.ml import store
from meridian_assets.defs.ml.assets import candidate_version
from meridian_assets.guard import WARNED
from meridian_assets.defs.ml_table.assets import environment
from meridian_assets_tests.pipeline.conftest import BACKFILLED
from meridian_assets_tests.pipeline.story import (
    BAD_DAY, GOOD, MODEL, NEXT_DAY, deploy_an_oracle, partial_fleet, run, verdict,
)
from meridian_assets_tests.webui import PROJECT, browser_page, open_lineage, shoot, webserver

HELD_DAY, FAILED_DAY = BAD_DAY, NEXT_DAY
DAY_AFTER = "2026-11-11"  # reads FAILED_DAY's GPS features
ARTIFACTS = PROJECT / "test-artifacts" / "ui"
GROUPS = {"landing", "raw_ingestion", "features", "ml_ready", "ml"}
DATA_STAGES = [job.name for job in stage_jobs if job.name != "daily_model"]  # launched as `make run` does


def build_story(root: Path) -> tuple[dict[str, str], str]:
    """Days 9 and 10 over a copy of the eight good days in `root`: the environment of the
    location, and the id of day 10's failed run."""
    env = {"MERIDIAN_LANDING": str(root / "landing"), "MERIDIAN_LAKE": str(root / "lake"),
           "MERIDIAN_SPARK_MASTER": "local[2]"}
    instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))
    partial_fleet(root, FAILED_DAY)
    # Launched through the code location, each run in a process of its own: day 10's stages as
    # `make run` launches them (it stops at its ingestion), day 9's data in one backfill run.
    workspace = str(PROJECT / "workspace.yaml")
    with environment(env):
        assert cli.launch(instance, DATA_STAGES, [FAILED_DAY], workspace, root / "launch.log") == 1
        assert cli.launch(instance, [backfill_job.name], [HELD_DAY], workspace, root / "launch.log") == 0
    runs = {day: instance.get_runs(dg.RunsFilter(tags={"dagster/partition": day})) for day in (FAILED_DAY, HELD_DAY)}
    assert [(r.job_name, r.status) for r in runs[FAILED_DAY]] == [("daily_ingest", dg.DagsterRunStatus.FAILURE)]
    assert {r.remote_job_origin.location_name for r in runs[FAILED_DAY] + runs[HELD_DAY]} == {"meridian_assets"}
    deploy_an_oracle(root / "lake", HELD_DAY)
    assert run(root, instance, day=HELD_DAY, select=dg.AssetSelection.groups("ml")).success
    instance.dispose()
    return env, runs[FAILED_DAY][0].run_id


@pytest.fixture(scope="module")
def story(good_history, tmp_path_factory):
    root = tmp_path_factory.mktemp("ui") / "story"
    shutil.copytree(good_history, root)
    env, run_id = build_story(root)
    with webserver(root / "dagster_home", env, root / "webserver.log") as server:
        yield root, server, run_id


@pytest.fixture(scope="module")
def page(story):
    _, server, _ = story
    with browser_page(server.url) as page:
        yield page


CHECKS_QUERY = """
query ($key: AssetKeyInput!, $check: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $check, partition: $partition, limit: 50) {
    status partition
    evaluation { severity partition description metadataEntries { label ... on TextMetadataEntry { text } } }
  }
}"""


def dbt_tests() -> list[str]:
    manifest = json.loads(meridian_dbt_project.manifest_path.read_text())
    return [node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "test"]


def executions(server, asset: str, check: str, partition: str | None = None) -> list[dict]:
    return server.graphql(CHECKS_QUERY, key={"path": [asset]}, check=check, partition=partition)["assetCheckExecutions"]


def test_a_held_candidate_keeps_the_deployed_model_and_says_why(story):
    """A deployed model that already knows day 10's answers cannot be beaten: the gate holds the
    candidate back with a WARN, and deployed_model records the decision and what stays."""
    root, _, _ = story
    lake = root / "lake"
    instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))
    gate = dg.AssetCheckKey(MODEL, "evaluation_gate")
    assert verdict(instance, gate, HELD_DAY) == WARNED
    kept = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("deployed_model"), asset_partitions=[HELD_DAY]), limit=1
    ).records[0].asset_materialization.metadata
    pointer = store.deployed(Lake(root=str(lake)))
    assert pointer["version"] == "oracle"
    assert kept["outcome"].value == "kept" and kept["version"].value == "oracle"
    assert kept["held_candidate"].value == candidate_version(instance, HELD_DAY)
    # The page says why without logs, and still shows what is in production and where it came from.
    assert "held by the evaluation gate, oracle stays: MAE" in kept["decision"].value
    assert kept["candidate"].value.endswith(f"/assets/delivery_time_model?view=partitions&partition={HELD_DAY}")
    assert kept["trained_on_days"].value == pointer["trained_on"]["days"]
    assert kept["mae"].value == pytest.approx(pointer["metrics"]["mae"], rel=1e-3)
    instance.dispose()


def test_the_webserver_listens_on_loopback_only_unless_told_otherwise(story):
    _, server, _ = story
    assert server.listening() == {"127.0.0.1"}


def test_a_newcomer_sees_no_community_dialog_and_the_instance_sends_no_telemetry(story):
    root, server, _ = story
    assert server.graphql("{ shouldShowNux }")["shouldShowNux"] is False
    settings = dg.DagsterInstance.from_config(str(root / "dagster_home")).get_settings("telemetry")
    assert settings == {"enabled": False}


def test_graphql_lineage_has_every_edge_and_group(story):
    _, server, _ = story
    nodes = server.graphql("{ assetNodes { assetKey { path } groupName dependencyKeys { path } } }")["assetNodes"]
    served = {("/".join(dep["path"]), "/".join(n["assetKey"]["path"])) for n in nodes for dep in n["dependencyKeys"]}
    graph = defs().resolve_asset_graph()
    declared = {(parent.to_user_string(), key.to_user_string())
                for key in graph.get_all_asset_keys() for parent in graph.get(key).parent_keys}
    assert served == declared
    assert ("landing/gps", "raw_gps_telemetry") in served and ("delivery_time_model", "deployed_model") in served
    assert {n["groupName"] for n in nodes} == GROUPS


def test_graphql_checks_judge_their_partitions_with_no_ghosts(story):
    _, server, _ = story
    (fleet,) = executions(server, "raw_gps_telemetry", "fleet_reporting", FAILED_DAY)
    assert fleet["status"] == "FAILED" and fleet["evaluation"]["severity"] == "ERROR"
    assert fleet["evaluation"]["partition"] == FAILED_DAY
    blocks = {e["label"]: e.get("text") for e in fleet["evaluation"]["metadataEntries"]}["blocks"]
    # Through the windows: gps_features of day 10, the ml table of day 11 (its vehicles' day before),
    # the model judged on day 11 and its deployment; later models leave day 11 out, so do not wait.
    assert blocks == (f"gps_features {FAILED_DAY}; ml_feature_table {DAY_AFTER}; delivery_time_model {DAY_AFTER}; "
                      f"deployed_model {DAY_AFTER}")
    (gate,) = executions(server, "delivery_time_model", "evaluation_gate", HELD_DAY)
    assert gate["status"] == "FAILED" and gate["evaluation"]["severity"] == "WARN", "a decision, not an error"
    # Red only where something blocks: no check of the ml table failed with ERROR on any day.
    graph = defs().resolve_asset_graph()
    for check_key in graph.get_check_keys_for_assets({dg.AssetKey("ml_feature_table")}):
        for result in executions(server, "ml_feature_table", check_key.name):
            assert (result["evaluation"] or {}).get("severity") != "ERROR" or result["status"] == "SUCCEEDED", check_key
    # Each check has one result per day it judged, on that day: nothing on day 10 below its ingestion.
    for asset, check in [*(("ml_feature_table", name) for name in dbt_tests()), ("gps_features", "contract")]:
        results = executions(server, asset, check)
        assert sorted(r["partition"] for r in results) == sorted([*GOOD, HELD_DAY]), check
        assert {r["status"] for r in results} == {"SUCCEEDED"}, check


CHECK_STATES_QUERY = """
query ($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) { ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks {
    name
    partitionStatuses { ... on AssetCheckTimePartitionStatuses { ranges { startKey endKey status } } }
  } } } } }
}"""


def test_graphql_counts_each_range_run_result_as_judging_its_days_materialization(story):
    """The first six days' data were built in one range run. Dagster's own per-partition check
    state (what executionForLatestMaterialization is for one result: SUCCEEDED only for a result
    that targets the day's newest materialization) has every check of every asset it built
    current and passed on each of those days."""
    _, server, _ = story
    graph = defs().resolve_asset_graph()
    built = [k for k in graph.toposorted_asset_keys if graph.get(k).group_name in {"raw_ingestion", "features", "ml_ready"}]
    judged = 0
    for key in built:
        node = server.graphql(CHECK_STATES_QUERY, key={"path": key.path})["assetNodeOrError"]
        for check in node["assetChecksOrError"]["checks"]:
            if check["partitionStatuses"] is None:
                continue  # the freshness checks judge the clock, not a day
            passed = {day for r in check["partitionStatuses"]["ranges"] if r["status"] == "SUCCEEDED"
                      for day in GOOD if r["startKey"] <= day <= r["endKey"]}
            assert set(BACKFILLED) <= passed, (key.to_user_string(), check["name"], check["partitionStatuses"])
            judged += 1
    assert judged > 30


def test_lineage_shows_every_group_and_asset(story, page):
    open_lineage(page)
    for name in [*GROUPS, *(key.path[-1] for key in defs().resolve_asset_graph().get_all_asset_keys())]:
        assert page.get_by_text(name, exact=True).count(), name
    shoot(page, ARTIFACTS, "lineage")


def test_a_failed_check_is_named_on_its_day_with_what_it_blocks(story, page):
    _, _, run_id = story
    page.goto("/assets/raw_gps_telemetry?view=checks")
    page.get_by_text("Execute all").wait_for()
    page.get_by_text("fleet_reporting", exact=True).first.click()
    page.get_by_text("Execution history", exact=True).click()
    failed_row = page.get_by_role("row").filter(has_text=FAILED_DAY).filter(has_text="Failed")
    failed_row.first.wait_for()
    assert "33.3% of the 60 vehicles" in failed_row.first.inner_text()
    assert f"Blocks: gps_features {FAILED_DAY}; ml_feature_table {DAY_AFTER}" in failed_row.first.inner_text()
    shoot(page, ARTIFACTS, "raw_gps_checks")

    page.goto(f"/runs/{run_id}")
    page.get_by_text(f"partition: {FAILED_DAY}").wait_for()
    page.get_by_text("fleet_reporting,volume_vs_history").first.wait_for()
    shoot(page, ARTIFACTS, "failed_run")


def test_deployed_model_is_green_with_its_version_and_the_gate_reason(story, page):
    page.goto("/assets/deployed_model")
    page.get_by_text("held by the evaluation gate, oracle stays").first.wait_for()
    assert "kept" in page.get_by_role("row").filter(has=page.get_by_text("outcome", exact=True)).inner_text()
    assert "oracle" in page.get_by_role("row").filter(has=page.get_by_text("version", exact=True)).inner_text()
    assert not page.get_by_text("Failed in").count(), "the latest materialization is not a failure"
    shoot(page, ARTIFACTS, "deployed_model")


def test_ml_feature_table_checks_tab_lists_partitioned_dbt_tests(story, page):
    page.goto("/assets/ml_feature_table?view=checks")
    page.get_by_text("Execute all").wait_for()
    for name in dbt_tests():  # the list fills in after the header: wait for each name
        expect(page.locator("body")).to_contain_text(name, timeout=15_000)
    page.get_by_text("not_null_ml_feature_table_date", exact=True).first.click()
    page.get_by_text("Latest execution").wait_for()
    assert HELD_DAY in page.get_by_text("Partition", exact=True).locator("..").inner_text()
    shoot(page, ARTIFACTS, "ml_feature_table_checks")


def test_the_overview_timeline_shows_the_launched_runs(story, page):
    page.goto("/overview")
    for job in ("daily_ingest", backfill_job.name):
        page.get_by_text(job, exact=True).first.wait_for()
    shoot(page, ARTIFACTS, "overview")
