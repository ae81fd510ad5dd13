"""The delivery-time model, its evaluation gate, and the deployment the gate guards."""

import sys

import pandas as pd
import pyarrow.parquet as pq

import dagster as dg
from meridian_assets import thresholds
from meridian_assets.code import source_version
from meridian_assets.defs.ml import model as dtm
from meridian_assets.defs.ml import store
from meridian_assets.lake import Lake, content_version
from meridian_assets.metadata import partition_link, readable
from meridian_assets.guard import PASSED, Judgement, judgements, require_fit_inputs
from meridian_assets.lineage import LEAVES_OUT_UNFIT
from meridian_assets.quality import latest_materialization, on_their_days
from meridian_assets.partitions import daily_partitions, training_window_and_holdout
from spark_jobs.layout import TRAINING_WINDOW_AND_HOLDOUT, existing_partitions

ML_TABLE = "ml_feature_table"
MODEL = "delivery_time_model"
GATE = "evaluation_gate"


def read_ml_days(lake: Lake, day: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The ml_feature_table partitions of D's training window and holdout that exist (early days
    have fewer): D whole, each training day as its training sample, read one day at a time; and
    the data version of each day read."""
    frames, versions = [], {}
    days = TRAINING_WINDOW_AND_HOLDOUT.days(day, day)
    for folder in existing_partitions(lake.read(ML_TABLE, days), ML_TABLE, days):
        date = folder.name.removeprefix("date=")
        table = pq.read_table(folder)
        versions[date] = content_version(table)
        frame = table.to_pandas().assign(date=date)
        frames.append(frame if date == day else dtm.training_sample(frame, date))
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["date"])), versions


def _importance_table(importance: pd.Series) -> str:
    rows = "\n".join(f"| {name} | {value:.2f} |" for name, value in importance.head(12).items())
    return "| feature | MAE increase when shuffled (min) |\n|---|---|\n" + rows


@dg.asset(
    description="Candidate delivery-time model for day D: gradient boosting trained on the "
    "labelled deliveries of D-28..D-1, evaluated on day D against the dispatcher's estimate "
    "and the deployed model. Stored under {lake}/models/{version}/.",
    group_name="ml",
    partitions_def=daily_partitions,
    deps=[dg.AssetDep(ML_TABLE, partition_mapping=training_window_and_holdout)],
    # It needs D's table fit (its holdout), and leaves out the unfit days of its training window.
    metadata={LEAVES_OUT_UNFIT: ML_TABLE},
    kinds={"scikitlearn", "python"},
    owners=["team:ml"],
    code_version=source_version(dtm, sys.modules[__name__]),
    output_required=False,
)
def delivery_time_model(context: dg.AssetExecutionContext, lake: Lake):
    day = context.partition_key
    history, versions = read_ml_days(lake, day)
    # A training day that is unfit, or missing after the platform's first day, is left out, with why.
    guard = require_fit_inputs(context)
    train_rows, holdout = dtm.split(history, day, guard["left_out"])
    if not dtm.enough_to_train(train_rows, holdout):
        context.log.warning(
            f"Not training for {day}: {train_rows['date'].nunique()} usable labelled history days and "
            f"{len(train_rows)} rows (need {thresholds.MIN_TRAINING_DAYS} days and {thresholds.MIN_TRAINING_ROWS} "
            f"rows), {len(holdout)} holdout rows; left out: {guard['left_out'] or 'none'}."
        )
        return

    current = store.deployed(lake)
    candidate = dtm.evaluate_candidate(
        train_rows, holdout, store.load_model(lake, current["version"]) if current else None
    )
    train_days = sorted(train_rows["date"].unique())
    version = f"{day}-{context.run.run_id[:8]}"
    info = {
        "trained_on": {"first": train_days[0], "last": train_days[-1], "days": train_days},
        # Provenance: the data version of each ml_feature_table day it learned from or was judged
        # on, and its code (the deployed model's trained_on_current_data check compares them).
        "inputs": {d: versions[d] for d in [*train_days, day]},
        "code_version": context.assets_def.code_versions_by_key[context.asset_key],
        "left_out": guard["left_out"],
        "holdout": day,
        "compared_with": current["version"] if current else None,  # what the gate weighs it against
        "features": dtm.FEATURES,
        "metrics": candidate.metrics,
        "training_rows": len(train_rows),
        "holdout_rows": len(holdout),
    }
    store.save_version(lake, version, candidate.model, info)
    metrics = candidate.metrics
    yield dg.MaterializeResult(
        metadata=readable({
            "forced_past_checks": guard["forced_past_checks"],
            **guard["forced"],
            "left_out_days": dg.MetadataValue.json(guard["left_out"]),
            "version": version,
            "path": dg.MetadataValue.path(lake.uri(f"{store.MODELS}/{version}")),
            **{k: v for k, v in metrics.items() if k not in ("deployed_mae_on_holdout", "vs_deployed")},
            "improvement_vs_baseline": 1 - metrics["mae"] / metrics["baseline_mae"],
            "deployed_version": current["version"] if current else "none",
            "deployed_mae_on_holdout": metrics["deployed_mae_on_holdout"] or float("nan"),
            **{f"difference_vs_deployed_{k}": v for k, v in (metrics["vs_deployed"] or {}).items() if k != "confidence"},
            "training_rows": len(train_rows),
            "holdout_rows": len(holdout),
            "trained_on": f"{train_days[0]}..{train_days[-1]} ({len(train_days)} days)",
            # The model card's provenance: each day learned from or judged on, with its data version.
            "data_versions": dg.MetadataValue.json(info["inputs"]),
            "code_version": info["code_version"],
            "feature_importance": dg.MetadataValue.md(_importance_table(dtm.importances(candidate.model, holdout))),
            # Where the candidate's error sits on its holdout day: by distance band, hour, region, customer type.
            "error_analysis": dg.MetadataValue.md(dtm.error_analysis(holdout, candidate.predicted)),
            "evaluation": dg.MetadataValue.md(
                dtm.png_markdown(dtm.evaluation_png(holdout, candidate.predicted), "evaluation")),
        })
    )


def newest_candidate(instance: dg.DagsterInstance, day: str) -> dg.EventLogRecord:
    """delivery_time_model's newest materialization of `day`: the candidate the gate judges."""
    record = latest_materialization(instance, dg.AssetKey(MODEL), day)
    if record is None:
        raise dg.Failure(f"no delivery_time_model materialized for {day}", allow_retries=False)
    return record


def candidate_version(instance: dg.DagsterInstance, day: str) -> str:
    """The model version delivery_time_model materialized last for `day`."""
    return newest_candidate(instance, day).asset_materialization.metadata["version"].value


def gate_reason(metrics: dict) -> str:
    """The evaluation gate's numbers in one sentence: its check result and deployed_model say the same."""
    limit = dtm.gate_limit(metrics)
    versus = metrics.get("vs_deployed")
    return (
        f"MAE {metrics['mae']:.2f} min vs limit {limit:.2f} ({thresholds.GATE_BASELINE_RATIO} x dispatcher "
        f"{metrics['baseline_mae']:.2f})"
        + (f"; vs deployed model ({metrics['deployed_mae_on_holdout']:.2f}) {versus['difference']:+.2f} min, "
           f"{versus['low']:+.2f}..{versus['high']:+.2f} at {versus['confidence']:.0%} each side"
           + (": significantly worse" if versus["low"] > 0 else "")
           if versus else "; nothing deployed yet")
    )


def overtaken(info: dict, deployed: dict | None) -> str | None:
    """Why a candidate that passed its gate must still not replace the model deployed now, if it
    must not: runs finish out of order, so the deployed model may be newer than the candidate, or
    not the one the gate compared it with (a late run of an earlier day, two days trained at once)."""
    if deployed is None:
        return None
    if info["holdout"] < deployed["holdout"]:
        return (f"it is trained on older data (holdout {info['holdout']}) than the deployed "
                f"{deployed['version']} (holdout {deployed['holdout']})")
    if info.get("compared_with") != deployed["version"]:
        return (f"its gate compared it with {info.get('compared_with') or 'nothing deployed'}, but "
                f"{deployed['version']} is deployed now (the next run compares with it)")
    return None


def deploy_decision(judgement: Judgement | None, candidate: str, info: dict, current: dict | None) -> dict:
    """The day's decision on `candidate` (`info`: its model.json): deploy exactly the version the
    gate judged, if that judgement is of the day's newest candidate (current: it targets that
    materialization, whose version it names), passed it, and no model deployed since overtakes it.
    Otherwise a decision too, not a failure: the model in production (`current`) stays, and says why.
    Pure (`deployed_model` reads and promotes), so the decision is tested alone (ml/test_deploy.py)."""
    kept = (current or {}).get("version", "none")
    if not judgement or not judgement.current:
        judged = judgement.evaluation.metadata["version"].value if judgement else None
        return {"outcome": "kept", "held_candidate": candidate,
                "decision": f"Candidate {candidate} is not deployed: the evaluation gate has not judged it "
                f"(its newest result judged {judged or 'nothing'}); {kept} stays"}
    if judgement.verdict != PASSED:
        return {"outcome": "kept", "held_candidate": candidate,
                "decision": f"Candidate {candidate} held by the evaluation gate, {kept} stays: "
                f"{gate_reason(info['metrics'])}"}
    if why := overtaken(info, current):
        return {"outcome": "kept", "held_candidate": candidate,
                "decision": f"Candidate {candidate} passed its gate but is not deployed: {why}; {kept} stays"}
    return {"outcome": "deployed", "decision": f"Deployed {candidate}: {gate_reason(info['metrics'])}"}


def in_production(lake: Lake) -> dict:
    """What deployed.json points at, as the model's page shows it on every partition."""
    pointer = store.deployed(lake)
    if not pointer:
        return {"version": "none"}
    trained, metrics = pointer["trained_on"], pointer["metrics"]
    return {
        "version": pointer["version"],
        "trained_on": f"{trained['first']}..{trained['last']} ({len(trained['days'])} days)",
        "trained_on_days": dg.MetadataValue.json(trained["days"]),
        "left_out_days": dg.MetadataValue.json(pointer["left_out"]),
        "holdout": pointer["holdout"],
        "candidate": partition_link(MODEL, pointer["holdout"]),
        "mae": metrics["mae"],
        "baseline_mae": metrics["baseline_mae"],
        "mae_vs_dispatcher": metrics["mae"] / metrics["baseline_mae"] if metrics["baseline_mae"] else float("nan"),
        "previous_version": pointer["previous_version"] or "none",
        "rolled_back_from": pointer.get("rolled_back_from") or "none",
        "deployed_at": pointer["deployed_at"],
        "pointer": dg.MetadataValue.path(lake.uri(store.POINTER)),
    }


class Deployment(dg.Config):
    rollback: bool = False  # point deployed.json back at the model deployed before the current one


@dg.asset(
    description="The model in production: {lake}/models/deployed.json points at the promoted "
    "version, with its trained-on days, holdout, metrics and the versions before it for rollback. "
    "Each partition records the day's decision: the candidate deployed, or held by the evaluation "
    "gate (the deployed model kept), or a rollback; its metadata always shows what is in production.",
    group_name="ml",
    partitions_def=daily_partitions,
    deps=[MODEL],
    kinds={"python", "json"},
    owners=["team:ml"],
    code_version=source_version(store, sys.modules[__name__]),
    pool="model_store",  # one deployment at a time reads, decides and moves deployed.json
)
def deployed_model(context: dg.AssetExecutionContext, config: Deployment, lake: Lake) -> dg.MaterializeResult:
    if config.rollback:
        # A person's decision, recorded by this run; the model restored passed the guard when first deployed.
        guard = {"forced_past_checks": 0, "forced": {}}
        restored = store.rollback_target(lake)
        if store.load_info(lake, restored)["holdout"] != context.partition_key:
            raise dg.Failure(f"roll back in the partition of the model restored, {restored}", allow_retries=False)
        pointer = store.rollback(lake)
        decision = {"outcome": "rolled back", "decision": f"Rolled back to {pointer['version']} "
                    f"(from {pointer['rolled_back_from']}) by a person"}
    else:
        guard = require_fit_inputs(context)
        judgement = judgements(context.instance, dg.AssetCheckKey(dg.AssetKey(MODEL), GATE)).get(context.partition_key)
        candidate = candidate_version(context.instance, context.partition_key)
        decision = deploy_decision(judgement, candidate, store.load_info(lake, candidate), store.deployed(lake))
        if decision["outcome"] == "deployed":
            store.promote(lake, candidate)
    context.log.info(decision["decision"])
    return dg.MaterializeResult(metadata=readable({
        **decision, **in_production(lake), "forced_past_checks": guard["forced_past_checks"], **guard["forced"],
    }))


@dg.asset_check(
    asset=delivery_time_model,
    name=GATE,
    blocking=True,
    partitions_def=daily_partitions,
    description=f"The candidate beats the dispatcher's estimate (MAE below {thresholds.GATE_BASELINE_RATIO} x its "
    "MAE) and is not significantly worse than the deployed model on the same holdout deliveries (paired "
    f"t-test, one-sided at {thresholds.GATE_CONFIDENCE:.0%}). Otherwise the deployed model stays (a WARN: "
    "a decision, not a failure).",
)
def evaluation_gate(context: dg.AssetCheckExecutionContext, lake: Lake):
    # The candidate judged is the one its result names and targets: the day's newest, read once.
    day = context.partition_key
    judged = newest_candidate(context.instance, day)
    version = judged.asset_materialization.metadata["version"].value
    metrics = store.load_info(lake, version)["metrics"]
    deployed = store.deployed(lake)
    verdict, versus = dtm.gate_verdict(metrics), metrics.get("vs_deployed") or {}
    # A refusal is a decision (the seed's flag_regression branch), so WARN: the run stays green and
    # deployed_model records that the deployed model was kept.
    result = dg.AssetCheckResult(
        asset_key=MODEL, check_name=GATE,
        passed=verdict["passed"],
        severity=dg.AssetCheckSeverity.WARN,
        description=gate_reason(metrics),
        metadata=readable({
            "value": metrics["mae"],
            "threshold": dtm.gate_limit(metrics),
            "baseline_mae": metrics["baseline_mae"],
            "threshold_ratio": thresholds.GATE_BASELINE_RATIO,
            "deployed_mae": metrics["deployed_mae_on_holdout"] if versus else float("nan"),
            "difference_vs_deployed": versus.get("difference", float("nan")),
            "difference_low": versus.get("low", float("nan")),
            "difference_high": versus.get("high", float("nan")),
            "confidence": thresholds.GATE_CONFIDENCE,
            **verdict,
            "version": version,
            "deployed_version": deployed["version"] if deployed else "none",
        }),
    )
    yield from on_their_days(context, {day: result}, {day: judged})


ml_assets = [delivery_time_model, deployed_model]
ml_checks = [evaluation_gate]
