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
import pandas as pd
import pyarrow as pa
import pytest

import dagster as dg
from meridian_assets.lake import Lake
from meridian_assets.definitions import defs
from meridian_assets import cli
from meridian_assets.defs.ml import store
from meridian_assets.defs.automation.alerts import run_alerts
from meridian_assets.partitions import waiting_lines
from meridian_assets.defs.ml.assets import candidate_version
from meridian_assets.guard import (
    FAILED, FINISHED_CHECK, FORCE_BY_TAG, FORCE_REASON_TAG, FORCE_TAG, PASSED, Fitness, judgements,
)
from meridian_assets_tests.pipeline.story import (
    BAD_DAY, GOOD, MODEL, NEXT_DAY, deploy_an_oracle, gate_outcome, partial_fleet, rewrite_gps, run, step_failures, verdict,
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


def results_without_value_or_threshold(instance, graph) -> tuple[set, list]:
    """CHECKS.md: every result carries `value` and `threshold` in its metadata, passed or failed.
    Returns the (check, passed) pairs found, and the results that miss either."""
    seen, missing = set(), []
    for check_key in graph.asset_check_keys:
        for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=1000):
            if record.status.value in FINISHED_CHECK:
                evaluation = record.event.dagster_event.asset_check_evaluation_data
                seen.add((check_key.name, evaluation.passed))
                if not {"value", "threshold"} <= set(evaluation.metadata):
                    missing.append((check_key.to_user_string(), record.partition, sorted(evaluation.metadata)))
    return seen, missing


def failed_checks(instance, graph, key: str, day: str) -> set[str]:
    asset = dg.AssetKey(key)
    return {
        ck.name for ck in graph.get_check_keys_for_assets({asset})
        if verdict(instance, ck, day) == FAILED
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
        seen, missing = results_without_value_or_threshold(instance, graph)
        assert {(name, False) for name in expected_failures} | {("evaluation_gate", True)} <= seen, seen
        assert not missing, missing
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
    assert isinstance(meta["baseline_mae"].value, float)  # the dispatcher's MAE, plotted over days
    assert meta["evaluation"].value.startswith("![evaluation](data:image/png;base64,iVBORw0KGgo")  # the PNG signature
    assert not any((root / "lake" / "ml_feature_table" / ".dbt-output").iterdir()), "each dbt build's files removed"
    # One more good day of the same fleet: the candidate is no worse than the model it replaces.
    assert gate_outcome(instance, BAD_DAY) == PASSED
    assert result.success
    deployment = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("deployed_model"), asset_partitions=[BAD_DAY]), limit=1
    ).records[0].asset_materialization.metadata
    assert deployment["outcome"].value == "deployed"
    assert store.deployed(Lake(root=str(root / "lake")))["version"] == meta["version"].value


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


def null_share(frame: pd.DataFrame, prefix: str) -> float:
    return float(frame[[c for c in frame.columns if c.startswith(prefix)]].isna().to_numpy().mean())


def test_the_night_after_a_stale_gps_day_is_held_then_healed_by_the_re_delivery(history):
    """The seed's failure was the nights after the bad input. Day 9's GPS is a stale copy of day 8;
    day 10 is clean, but its ml table reads day 9's GPS features: it is recorded unfit, no
    candidate is judged on it, and later training leaves days 9 and 10 out, naming why. The
    vendor re-delivers day 9; materializing days 9 and 10 again by hand heals both."""
    root, instance = history
    graph = defs().resolve_asset_graph()
    lake = Lake(root=str(root / "lake"))
    deployed_before = store.deployed(lake)
    good_gps = root / "redelivery"
    shutil.copytree(root / "landing" / "gps" / BAD_DAY, good_gps)
    copy_of_day_8(root)

    bad = run(root, instance, day=BAD_DAY)
    assert not bad.success
    assert {"not_a_copy", "times_in_partition_day"} <= failed_checks(instance, graph, "raw_gps_telemetry", BAD_DAY)
    next_night = run(root, instance, day=NEXT_DAY)
    assert not next_night.success  # ml_feature_table's inputs_fit, a blocking check, failed

    # What was held: day 9's GPS features, day 10's ml table (built, recorded unfit), the model judged
    # on day 10 and its deployment; and exactly that is what the day-9 alert says waits.
    fitness = Fitness(instance, graph)
    assert BAD_DAY not in instance.get_materialized_partitions(dg.AssetKey("gps_features"))
    assert failed_checks(instance, graph, "ml_feature_table", NEXT_DAY) == {"inputs_fit"}
    unfit = fitness.problems(dg.AssetKey("ml_feature_table"), NEXT_DAY)
    assert f"gps_features is not materialized for {BAD_DAY}" in unfit
    assert f"raw_gps_telemetry.not_a_copy failed for {BAD_DAY}" in unfit
    for key in (MODEL, dg.AssetKey("deployed_model")):
        assert NEXT_DAY not in instance.get_materialized_partitions(key)
    assert store.deployed(lake) == deployed_before
    (alert,) = [a for a in run_alerts(instance, graph, bad.run_id, "http://ui") if "raw_gps_telemetry" in a.headline]
    assert alert.waiting_lines == [f"gps_features {BAD_DAY}", f"ml_feature_table {NEXT_DAY}",
                                   f"delivery_time_model {NEXT_DAY}", f"deployed_model {NEXT_DAY}"]
    # Inside its run Dagster also stopped what reads only day 8's GPS: said apart, as not held.
    assert waiting_lines(alert.stopped) == [f"ml_feature_table {BAD_DAY}", f"delivery_time_model {BAD_DAY}",
                                            f"deployed_model {BAD_DAY}"]
    assert Fitness(instance, graph).input_problems(dg.AssetKey("ml_feature_table"), BAD_DAY) == []
    # Every later training leaves both days out, naming why (what training itself asks).
    later = fitness.left_out(MODEL, "2026-11-11")
    assert set(later) == {BAD_DAY, NEXT_DAY}
    assert f"ml_feature_table.inputs_fit failed for {NEXT_DAY}" in later[NEXT_DAY]

    # The vendor re-delivers day 9; a person materializes days 9 and 10 again.
    shutil.rmtree(root / "landing" / "gps" / BAD_DAY)
    shutil.copytree(good_gps, root / "landing" / "gps" / BAD_DAY)
    for day in (BAD_DAY, NEXT_DAY):
        assert run(root, instance, day=day).success, day
    healed = Fitness(instance, graph)
    assert healed.problems(dg.AssetKey("ml_feature_table"), NEXT_DAY) == []
    assert null_share(pd.read_parquet(root / "lake" / "ml_feature_table" / f"date={NEXT_DAY}"), "veh_prev_") < 0.5
    assert healed.problems(MODEL, NEXT_DAY) == [], "a candidate trained on day 10 and judged by its gate"
    assert healed.left_out(MODEL, "2026-11-11") == {}


def test_deployment_promotes_exactly_the_candidate_the_gate_judged(history):
    """Candidates for one day from several runs (a re-run beside automation): the gate judged the
    first, the second is the newest. Deployment promotes neither; once a run trains a third and
    its gate judges it, exactly that one, or nothing."""
    root, instance = history
    lake = Lake(root=str(root / "lake"))
    day, before = GOOD[-1], store.deployed(lake)
    gate = dg.AssetCheckKey(MODEL, "evaluation_gate")
    first = judgements(instance, gate)[day].evaluation.metadata["version"].value
    assert run(root, instance, day=day, select=dg.AssetSelection.assets(MODEL).without_checks()).success
    second = candidate_version(instance, day)
    assert second != first

    unjudged = run(root, instance, day=day, select=dg.AssetSelection.assets("deployed_model"))
    assert not unjudged.success
    assert any("evaluation_gate has not judged the latest materialization" in m for m in step_failures(unjudged))
    assert store.deployed(lake) == before

    assert run(root, instance, day=day, select=dg.AssetSelection.assets(MODEL)).success  # with its gate
    third = candidate_version(instance, day)
    judged = judgements(instance, gate)[day]
    assert (judged.evaluation.metadata["version"].value, judged.current) == (third, True)
    deployment = run(root, instance, day=day, select=dg.AssetSelection.assets("deployed_model"))
    assert deployment.success
    (decision,) = deployment.asset_materializations_for_node("deployed_model")
    assert third in decision.metadata["decision"].value
    if decision.metadata["outcome"].value == "deployed":
        assert judged.verdict == PASSED and store.deployed(lake)["version"] == third
    else:
        assert store.deployed(lake) == before


def test_a_range_run_stopped_by_one_bad_day_leaves_its_good_days_to_automation(history):
    """What the UI's backfill of data_backfill runs: one run for days 9..10, and day 9's GPS is
    stale. Its blocking check stops every step after it, for both days. Automation then builds
    what the good days need and what reads only them; day 10's ml table, which reads day 9's GPS
    features, waits for the re-delivery."""
    root, instance = history
    definitions = defs()
    cursor = dg.evaluate_automation_conditions(defs=definitions, instance=instance).cursor
    copy_of_day_8(root)
    backfill = run(root, instance, select=dg.AssetSelection.groups("raw_ingestion", "features", "ml_ready"),
                   tags={"dagster/asset_partition_range_start": BAD_DAY, "dagster/asset_partition_range_end": NEXT_DAY})
    assert not backfill.success
    for day in (BAD_DAY, NEXT_DAY):
        assert day not in instance.get_materialized_partitions(dg.AssetKey("gps_features")), "stopped in the run"
    result = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=cursor)
    requested = {key.to_user_string(): result.get_requested_partitions(key)
                 for key in definitions.resolve_asset_graph().get_all_asset_keys() if result.get_num_requested(key)}
    assert requested == {
        "gps_features": {NEXT_DAY},
        "ml_feature_table": {BAD_DAY},  # reads day 8's GPS features
        "delivery_time_model": {BAD_DAY}, "deployed_model": {BAD_DAY},
        "customer_features": {"2026-11-11"},  # reads day 10's snapshot and deliveries, both in
    }


def test_status_counts_every_good_day_judged_and_no_clock_check(history):
    """After good days, `meridian status` shows no check "not judged": the unpartitioned freshness
    checks judge the clock, not a day, and are not counted per day."""
    _, instance = history
    lines = cli.status(GOOD[0], GOOD[-1], instance, defs()).splitlines()
    assert lines[0].split()[-2:] == ["not", "judged"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["raw_gps_telemetry"][0] == f"{len(GOOD)}/{len(GOOD)}"
    for asset, (_, passed, warned, failed, not_judged) in rows.items():
        assert (failed, not_judged) == ("0", "0"), asset
    assert int(rows["raw_gps_telemetry"][1]) >= len(GOOD) * 5
