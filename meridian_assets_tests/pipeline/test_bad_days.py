"""The 2 AM story as tests: eight good days from nothing, then a ninth whose GPS drop is bad.

The eight good days start from an empty instance and lake, one run per day with every asset
selected (`--select '*'`), as README tells a new user: no look-back step. Each bad ninth day
must show up as a failed check (or a failed ingestion step for an empty drop), no model may be
trained or deployed for it, deployed.json must keep the earlier model, a later run of training
alone (as a schedule or sensor would start) must be refused, and the good tenth day trains
without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import dagster as dg
from meridian_assets.lake import Lake
from meridian_assets.definitions import defs
from meridian_assets import cli
from meridian_assets.defs.ml import model as dtm
from meridian_assets.defs.ml import store
from meridian_assets.guard import FAILED, FORCE_BY_TAG, FORCE_REASON_TAG, FORCE_TAG, PASSED, check_outcomes
from meridian_assets_tests.pipeline.story import (
    BAD_DAY, GOOD, MODEL, deploy_an_oracle, gate_outcome, partial_fleet, rewrite_gps, run,
)


def copy_of_day_8(root: Path) -> None:
    target = root / "landing" / "gps" / BAD_DAY
    shutil.rmtree(target)
    shutil.copytree(root / "landing" / "gps" / GOOD[-1], target)


def out_of_range(root: Path) -> None:
    def speeding(table: pa.Table) -> pa.Table:
        speed = table.column("speed_kph").to_numpy().copy()
        speed[::20] = 400.0
        return table.set_column(table.column_names.index("speed_kph"), "speed_kph", pa.array(speed))
    rewrite_gps(root, BAD_DAY, speeding)


def null_burst(root: Path) -> None:
    def nulls(table: pa.Table) -> pa.Table:
        speed = table.column("speed_kph").to_numpy()
        mask = np.zeros(len(speed), bool)
        mask[: len(speed) // 3] = True
        return table.set_column(table.column_names.index("speed_kph"), "speed_kph", pa.array(speed, mask=mask))
    rewrite_gps(root, BAD_DAY, nulls)


def timezone_shift(root: Path) -> None:
    """Local time (UTC+2) written as UTC: every ping two hours early, all still inside the day."""
    def shift(table: pa.Table) -> pa.Table:
        ts = table.column("event_ts")
        shifted = pa.compute.subtract(ts, pa.scalar(2 * 3600 * 1_000_000, pa.duration("us")))
        return table.set_column(table.column_names.index("event_ts"), "event_ts", shifted.cast(ts.type))
    rewrite_gps(root, BAD_DAY, shift)


def empty_drop(root: Path) -> None:
    rewrite_gps(root, BAD_DAY, lambda table: table.slice(0, 0))


def failed_checks(instance, graph, key: str, day: str) -> set[str]:
    asset = dg.AssetKey(key)
    return {
        ck.name for ck in graph.get_check_keys_for_assets({asset})
        if check_outcomes(instance, ck, {day}).get(day) == FAILED
    }


@pytest.mark.parametrize(("break_gps", "expected_failures"), [
    (copy_of_day_8, {"times_in_partition_day", "not_a_copy"}),
    (partial_fleet, {"fleet_reporting", "volume_vs_history"}),
    (out_of_range, {"contract"}),
    (null_burst, {"contract"}),
    (timezone_shift, {"activity_hours"}),
    (empty_drop, set()),
])
def test_bad_gps_day_blocks_training_and_deployment(history, break_gps, expected_failures):
    root, instance = history
    deployed_before = (root / "lake" / "models" / "deployed.json").read_bytes()
    break_gps(root)

    result = run(root, instance, day=BAD_DAY)
    assert not result.success
    graph = defs().resolve_asset_graph()
    if expected_failures:
        assert expected_failures <= failed_checks(instance, graph, "raw_gps_telemetry", BAD_DAY)
    else:  # an empty drop fails ingestion itself, naming the drop
        messages = [e.event_specific_data.error.message for e in result.get_step_failure_events()]
        assert any("empty drop" in m and f"gps/{BAD_DAY}" in m for m in messages), messages
    assert BAD_DAY not in instance.get_materialized_partitions(MODEL)
    assert BAD_DAY not in instance.get_materialized_partitions(dg.AssetKey("deployed_model"))
    assert (root / "lake" / "models" / "deployed.json").read_bytes() == deployed_before
    assert json.loads(deployed_before)["holdout"] in GOOD

    # A schedule or sensor starting training alone, in a new run, is refused too.
    retry = run(root, instance, day=BAD_DAY, select=dg.AssetSelection.groups("ml"))
    assert not retry.success
    assert any("Blocked: upstream blocking checks" in e.event_specific_data.error.message
               for e in retry.get_step_failure_events())
    assert (root / "lake" / "models" / "deployed.json").read_bytes() == deployed_before


def test_good_ninth_day_trains_and_the_gate_decides(history):
    root, instance = history
    result = run(root, instance, day=BAD_DAY)
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        if key != MODEL:
            assert not failed_checks(instance, graph, key.to_user_string(), BAD_DAY), key
    meta = instance.fetch_materializations(MODEL, limit=1).records[0].asset_materialization.metadata
    assert meta["improvement_vs_baseline"].value >= 0.05  # trained on generated data, it beats the dispatcher
    passed = gate_outcome(instance, BAD_DAY) == PASSED
    metrics = store.load_info(Lake(root=str(root / "lake")), meta["version"].value)["metrics"]
    assert metrics["vs_deployed"]["low"] <= metrics["vs_deployed"]["difference"] <= metrics["vs_deployed"]["high"]
    assert passed == dtm.gate_verdict(metrics)["passed"]
    assert result.success, "deploying or holding back, the run is green"
    deployment = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("deployed_model"), asset_partitions=[BAD_DAY]), limit=1
    ).records[0].asset_materialization.metadata
    assert deployment["outcome"].value == ("deployed" if passed else "kept")
    assert (store.deployed(Lake(root=str(root / "lake")))["holdout"] == BAD_DAY) == passed


def test_runs_finishing_out_of_order_never_deploy_an_older_or_unweighed_model(history):
    """A late run of an earlier day, and a candidate weighed against a model that is no longer
    deployed: each passed its gate, each is held, deployed.json stays, and the runs are green."""
    root, instance = history
    lake = Lake(root=str(root / "lake"))
    deployed = store.deployed(lake)
    earlier = [d for d in GOOD if d < deployed["holdout"] and gate_outcome(instance, d) == PASSED]
    assert earlier, "an earlier day whose candidate passed its gate"

    def deploy(day: str) -> str:
        result = run(root, instance, day=day, select=dg.AssetSelection.assets("deployed_model"))
        assert result.success, "holding a candidate back is a decision"
        (materialization,) = result.asset_materializations_for_node("deployed_model")
        assert materialization.metadata["outcome"].value == "kept"
        return materialization.metadata["decision"].value

    assert "trained on older data" in deploy(earlier[-1])
    assert store.deployed(lake) == deployed

    # Someone deploys another model; then the run that trained the deployed day's candidate,
    # weighed against the model before, finishes.
    deploy_an_oracle(root / "lake", deployed["holdout"])
    oracle = store.deployed(lake)
    assert "its gate compared it with" in (decision := deploy(deployed["holdout"]))
    assert "but oracle is deployed now" in decision
    assert store.deployed(lake) == oracle


def test_a_person_can_force_training_past_failed_checks(history):
    root, instance = history
    out_of_range(root)
    assert not run(root, instance, day=BAD_DAY).success
    forced = run(root, instance, day=BAD_DAY, select=[MODEL],
                 tags={FORCE_TAG: "true", FORCE_BY_TAG: "ml.oncall", FORCE_REASON_TAG: "speeds re-checked by hand"})
    # Training itself may still have nothing to hold out (ml_feature_table of the day was
    # blocked); what matters is that the guard let it through and said so.
    assert forced.success
    logs = instance.all_logs(forced.run_id)
    assert any("by ml.oncall (speeds re-checked by hand)" in (e.user_message or "") for e in logs)
    assert instance.get_run_by_id(forced.run_id).tags[FORCE_TAG] == "true"


def test_feature_groups_materialized_for_every_good_day(history):
    _, instance = history
    for group in ("gps", "route", "weather", "traffic", "customer"):
        key = dg.AssetKey(f"{group}_features")
        assert set(GOOD) <= instance.get_materialized_partitions(key), group
        record = instance.fetch_materializations(key, limit=1).records[0]
        meta = record.asset_materialization.metadata
        assert meta["dagster/partition_row_count"].value > 0
        assert meta["distinct_entities"].value > 0
        assert meta["spark_seconds"].value > 0
        assert set(meta["null_fraction"].value) == {c.name for c in meta["dagster/column_schema"].schema.columns}


def test_rollback_is_a_dagster_run_the_ui_shows(history, monkeypatch, capsys):
    root, instance = history
    lake = root / "lake"
    current = store.deployed(Lake(root=str(lake)))
    monkeypatch.setenv("MERIDIAN_LAKE", str(lake))
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster_home"))
    assert cli.main(["rollback"]) == 0
    restored = store.deployed(Lake(root=str(lake)))
    assert restored["version"] == current["previous_version"]
    assert restored["rolled_back_from"] == current["version"]
    assert store.load_model(Lake(root=str(lake)), restored["version"]) is not None
    assert restored["version"] in capsys.readouterr().out
    record = instance.fetch_materializations(dg.AssetKey("deployed_model"), limit=1).records[0]
    assert record.asset_materialization.metadata["version"].value == restored["version"]
    assert record.asset_materialization.metadata["rolled_back_from"].value == current["version"]
    assert record.partition_key == store.load_info(Lake(root=str(lake)), restored["version"])["holdout"]
