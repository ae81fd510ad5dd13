"""The model on the story's eight days, with Spark and dbt for real: measured against the noise
floor, fed no outcome of its own day, and stale when a training day is written again with other data."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import dagster as dg
from meridian_assets import cli
from meridian_assets.defs.ml import model as dtm
from meridian_assets.defs.ml import store
from meridian_assets.defs.ml.provenance import trained_on_current_data, training_data_sensor
from meridian_assets.lake import Lake
from meridian_assets_tests.pipeline.story import MODEL, run

ML_TABLE = "ml_feature_table"
LATER = timedelta(minutes=17)


def ml_day(lake: Lake, day: str) -> pd.DataFrame:
    return pd.read_parquet(lake.path / ML_TABLE / f"date={day}").sort_values("delivery_id", ignore_index=True)


def arrive_later(root, day: str) -> None:
    """The vendor re-delivers the day: every delivered stop arrived 17 minutes later."""
    for path in sorted((root / "landing" / "deliveries" / day).glob("part-*.parquet")):
        table = pq.read_table(path)
        arrival = table.column("actual_arrival_ts")
        later = pc.if_else(pc.equal(table.column("status"), "delivered"), pc.add(arrival, pa.scalar(LATER)), arrival)
        pq.write_table(table.set_column(table.schema.get_field_index("actual_arrival_ts"), "actual_arrival_ts",
                                        later.cast(arrival.type)), path)


def test_a_days_outcomes_change_no_feature_and_a_changed_training_day_makes_the_model_stale(history):
    root, instance = history
    lake = Lake(root=str(root / "lake"))
    deployed = store.deployed(lake)
    assert set(deployed["inputs"]) == {*deployed["trained_on"]["days"], deployed["holdout"]}
    assert deployed["code_version"]
    day = deployed["trained_on"]["days"][-1]
    sensor = dg.build_sensor_context(instance=instance, resources={"lake": lake})
    assert isinstance(training_data_sensor(sensor), dg.SkipReason)  # the first tick only starts the cursor

    # The same data again (dbt rebuilds the day): nothing changed, nothing to check.
    before = ml_day(lake, day)
    assert run(root, instance, day=day, select=dg.AssetSelection.assets(ML_TABLE)).success
    assert isinstance(skip := training_data_sensor(sensor), dg.SkipReason), skip
    assert "none changes a day" in skip.skip_message

    # The day's outcomes change: its features must not (they are known at dispatch), its labels do.
    # Of the feature groups, route and customer read deliveries (test_structure: what each job reads).
    arrive_later(root, day)
    redo = dg.AssetSelection.assets("raw_deliveries", "route_features", "customer_features") | dg.AssetSelection.groups("ml_ready")
    assert run(root, instance, day=day, select=redo).success
    after = ml_day(lake, day)
    pd.testing.assert_frame_equal(after[["delivery_id", *dtm.FEATURES]], before[["delivery_id", *dtm.FEATURES]])
    moved = (after[dtm.LABEL] - before[dtm.LABEL]).dropna()
    assert len(moved) > 100 and (moved.round(6) == LATER.total_seconds() / 60).all()

    # The deployed model learned from the old day: the sensor runs its check, which warns.
    request = training_data_sensor(sensor)
    assert isinstance(request, dg.RunRequest) and request.tags["meridian/changed_days"] == day
    check = run(root, instance, select=dg.AssetSelection.checks(trained_on_current_data))
    assert check.success, "a stale model is a WARN: the run stays green"
    (evaluation,) = check.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    changed = evaluation.metadata["changed_days"].value
    assert list(changed) == [day] and changed[day]["trained_on"] == deployed["inputs"][day]
    assert f"ml_feature_table {day} (version {deployed['inputs'][day]} -> {changed[day]['now']})" in evaluation.description

    # The next candidate learns from the corrected day.
    retrain = run(root, instance, day=deployed["holdout"], select=dg.AssetSelection.assets(MODEL))
    assert retrain.success
    version = retrain.asset_materializations_for_node(MODEL.path[0])[0].metadata["version"].value
    assert store.load_info(lake, version)["inputs"][day] == changed[day]["now"]


def test_evaluate_puts_each_model_between_the_oracle_and_the_dispatcher_and_on_the_models_page(history):
    root, instance = history
    lake = Lake(root=str(root / "lake"))
    pointer = store.deployed(lake)
    report = cli.evaluate(instance, lake, root / "truth").splitlines()

    deployed_at = report.index(f"deployed model {pointer['version']} on the days it never saw")
    candidates = {line.split()[0]: list(map(float, line.split()[1:])) for line in report[2:deployed_at]}
    assert set(candidates) == instance.get_materialized_partitions(MODEL) and pointer["holdout"] in candidates
    observed = {r.partition_key: r.asset_observation.metadata
                for r in instance.fetch_observations(MODEL, limit=100).records}
    for day, (deliveries, model, dispatcher, oracle, vs_oracle, _) in candidates.items():
        metrics = store.load_info(lake, observed[day]["version"].value)["metrics"]
        assert (model, dispatcher) == (round(metrics["mae"], 2), round(metrics["baseline_mae"], 2))
        assert oracle == round(observed[day]["oracle_mae"].value, 2) and oracle < model
        assert vs_oracle == round(observed[day]["mae_vs_oracle"].value, 2)

    days = [line.split()[0] for line in report[deployed_at + 2:-1]]
    assert days[0] == pointer["holdout"] and days == sorted(set(days)) and report[-1].startswith("all days")
    deliveries, model, dispatcher, oracle, vs_oracle, vs_dispatcher = map(float, report[-1].split()[2:])
    assert deliveries > 300 and oracle < model < 0.95 * dispatcher
    assert vs_oracle == round(model / oracle, 2) and vs_dispatcher == round(model / dispatcher, 2)
