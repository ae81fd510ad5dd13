"""`meridian`: the operator's command line beside the Dagster CLI."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd

import dagster as dg

from meridian_assets.dagster_private import code_location, create_run
from meridian_assets.defs.automation.jobs import backfill_job, daily_job, stage_jobs
from meridian_assets.defs.ml import model as dtm
from meridian_assets.defs.ml import store
from meridian_assets.defs.ml.assets import GATE, ML_TABLE, MODEL, Deployment, candidate_version, deployed_model, gate_reason
from meridian_assets.guard import FAILED, PARTITION_TAG, PASSED, RANGE_TAGS, WARNED, judgements, runnable
from meridian_assets.lake import Lake
from spark_jobs.layout import days_between

RUN_TIMEOUT_SECONDS = 7200  # when the instance sets no run_monitoring.max_runtime_seconds


def status(start: str, end: str, instance: dg.DagsterInstance, defs: dg.Definitions) -> str:
    """Per asset: partitions of the range materialized, and per day its partitioned checks' verdict
    on the day's newest materialization ("not judged": none yet, or only of an older one)."""
    days = set(days_between(start, end))
    graph = defs.resolve_asset_graph()
    lines = [f"{'asset':<28}{'partitions':>12}{'checks passed':>15}{'warned':>8}{'failed':>8}{'not judged':>12}"]
    for key in graph.toposorted_asset_keys:
        if not graph.get(key).is_materializable:
            continue  # the landing drops: vendors write them
        done = instance.get_materialized_partitions(key) & days
        counts = Counter()
        for check_key in graph.get_check_keys_for_assets({key}):
            if graph.get_check_spec(check_key).partitions_def is None:
                continue  # the freshness checks judge the clock, not a day
            judged = {day: j for day, j in judgements(instance, check_key).items() if day in done and j.current}
            counts.update(j.verdict for j in judged.values())
            counts["not judged"] += len(done - judged.keys())
        lines.append(
            f"{key.to_user_string():<28}{f'{len(done)}/{len(days)}':>12}{counts[PASSED]:>15}{counts[WARNED]:>8}"
            f"{counts[FAILED]:>8}{counts['not judged']:>12}"
        )
    return "\n".join(lines)


def gate_decisions(start: str, end: str, instance: dg.DagsterInstance, lake: Lake) -> list[str]:
    """What the evaluation gate decided per day: deploying a candidate, or keeping the model in place."""
    gate = judgements(instance, dg.AssetCheckKey(dg.AssetKey(MODEL), GATE))
    lines = []
    for day in days_between(start, end):
        if day not in gate:
            continue
        metrics = store.load_info(lake, gate[day].evaluation.metadata["version"].value)["metrics"]
        verdict = "deployed" if gate[day].verdict == PASSED else "held, the deployed model stays"
        lines.append(f"  {day}: {verdict}: {gate_reason(metrics)}")
    return lines


def deployed_summary(lake: Lake) -> tuple[str, bool]:
    """The deployed model's line, and whether it clears the gate's margin over the dispatcher."""
    pointer = store.deployed(lake)
    if not pointer:
        return "deployed model: none", False
    metrics = pointer["metrics"]
    gain = 1 - metrics["mae"] / metrics["baseline_mae"]
    line = (
        f"deployed model: {pointer['version']} trained on {pointer['trained_on']['first']}.."
        f"{pointer['trained_on']['last']}, holdout {pointer['holdout']}: MAE {metrics['mae']:.2f} min "
        f"vs dispatcher {metrics['baseline_mae']:.2f} min ({gain:.1%} better)"
    )
    return line, metrics["mae"] < dtm.gate_limit(metrics)


def evaluate(instance: dg.DagsterInstance, lake: Lake, truth: Path) -> str:
    """Models against the dispatcher and the oracle on the days that have the synthetic vendor's
    answers in `truth`: each candidate on its own holdout day, recorded on delivery_time_model's
    page (an observation of that partition: `oracle_mae`, `mae_vs_oracle`, which the UI plots
    beside `mae` and `baseline_mae`), then the deployed model on the days it never saw."""
    frames = {day: dtm.labelled(pd.read_parquet(folder)) for day in sorted(p.stem for p in truth.glob("*.parquet"))
              if (folder := lake.partition(ML_TABLE, day)).exists()}
    answers = {day: pd.read_parquet(truth / f"{day}.parquet") for day in frames}
    candidates = {}
    for day, frame in frames.items():
        try:
            version = candidate_version(instance, day)
        except dg.Failure:  # no candidate for that day (no history yet, or not trained)
            continue
        row = candidates[day] = dtm.against_the_noise_floor(
            frame, dtm.predict(store.load_model(lake, version), frame), answers[day])
        instance.report_runless_asset_event(dg.AssetObservation(
            MODEL, partition=day, description="Against the noise floor: `meridian evaluate --truth`.",
            metadata={"version": version, "oracle_mae": round(row["oracle_mae"], 4),
                      "mae_vs_oracle": round(row["model_vs_oracle"], 4)}))
    lines = ["each candidate on its own holdout day (MAE in minutes; oracle: each stop's noise-free median duration)",
             *_noise_floor_table(candidates)]
    pointer = store.deployed(lake)
    if not pointer:
        return "\n".join([*lines, "deployed model: none"])
    unseen = [day for day in frames if day >= pointer["holdout"]]
    if not unseen:
        return "\n".join([*lines, f"deployed model {pointer['version']}: no day from its holdout {pointer['holdout']} "
                                  f"on has both the ml table and {truth}"])
    model = store.load_model(lake, pointer["version"])
    pairs = {**{day: (frames[day], answers[day]) for day in unseen},
             "all days": (pd.concat(frames[day] for day in unseen), pd.concat(answers[day] for day in unseen))}
    deployed = {day: dtm.against_the_noise_floor(frame, dtm.predict(model, frame), answer)
                for day, (frame, answer) in pairs.items()}
    return "\n".join([*lines, f"deployed model {pointer['version']} on the days it never saw",
                      *_noise_floor_table(deployed)])


def _noise_floor_table(rows: dict[str, dict]) -> list[str]:
    return [f"{'day':<12}{'deliveries':>11}{'model':>8}{'dispatcher':>11}{'oracle':>8}{'model/oracle':>14}"
            f"{'model/dispatcher':>18}",
            *(f"{day:<12}{r['deliveries']:>11}{r['model_mae']:>8.2f}{r['dispatcher_mae']:>11.2f}{r['oracle_mae']:>8.2f}"
              f"{r['model_vs_oracle']:>14.2f}{r['model_vs_dispatcher']:>18.2f}" for day, r in rows.items())]


def rollback(instance: dg.DagsterInstance, definitions: dg.Definitions, lake: Lake) -> int:
    """A Dagster run of deployed_model in rollback mode, in the partition of the model it restores,
    so the UI's deployed_model history always says what is deployed."""
    restored = store.rollback_target(lake)
    result = dg.materialize(
        [deployed_model], partition_key=store.load_info(lake, restored)["holdout"], instance=instance,
        resources={"lake": definitions.resources["lake"]},
        run_config=dg.RunConfig({"deployed_model": Deployment(rollback=True)}), raise_on_error=False,
    )
    if not result.success:
        print(f"rollback failed, see run {result.run_id}", file=sys.stderr)
        return 1
    pointer = store.deployed(lake)
    print(f"deployed model is now {pointer['version']} (rolled back from {pointer['rolled_back_from']}; "
          f"run {result.run_id})")
    return 0


@contextmanager
def redirect_fds(target) -> Iterator[TextIO]:
    """Point this process's stdout and stderr (and so its children's) at `target`; yields the former stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1)]
    try:
        saved.append(os.dup(2))
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
        with open(os.dup(saved[0]), "w") as out:
            yield out
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved_fd in enumerate(saved, start=1):
            os.dup2(saved_fd, fd)
            os.close(saved_fd)


def wait_for(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    """Until the run ends; past the instance's maximum runtime it is stopped and marked failed,
    as run monitoring would (no daemon watches these runs)."""
    deadline = time.monotonic() + (instance.run_monitoring_max_runtime_seconds or RUN_TIMEOUT_SECONDS)
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        if time.monotonic() > deadline:
            instance.run_launcher.terminate(run_id)
            instance.report_run_failed(run, "exceeded the maximum runtime with no daemon to stop it")
        time.sleep(1)
    return run


def launch(instance: dg.DagsterInstance, jobs: list[str], days: list[str], workspace_file: str, log: Path,
           backfill: str | None = None) -> int:
    """The `backfill` job's assets over all `days` in one run, as the UI's backfill runs them (one
    Spark job per feature group, one dbt build); then each day in order, the `jobs` in order. Each
    run is launched as the webserver launches one: in its own process through the code location of
    `workspace_file`, so it records its origin and the UI's Overview, timeline and job pages show
    it (`dg launch` runs in process, with none). Each day's run selects what the one decision of
    what runs next allows (`guard.runnable`, as automation and the nightly schedule): an asset
    whose inputs are unfit is held, and said why. A day stops at its first run that does not
    succeed. The queue is skipped: the runs go one after another. The code server's and the runs'
    output go to `log`; a line per run or day to stdout. Returns how many runs failed."""
    from meridian_assets.definitions import defs

    graph = defs().resolve_asset_graph()
    named = {job.name: job for job in [*stage_jobs, daily_job, backfill_job]}
    stopped = 0
    with open(log, "a") as logged, redirect_fds(logged) as out, \
            code_location(instance, workspace_file) as (workspace, location, repository):

        def launched(name: str, tags: dict[str, str], keys) -> dg.DagsterRun:
            checks = {c for c in named[name].selection.resolve_checks(graph) if c.asset_key in keys}
            run = create_run(instance, location, repository, name, tags, keys, checks)
            instance.launch_run(run.run_id, workspace)
            return wait_for(instance, run.run_id)

        if backfill:
            run = launched(backfill, dict(zip(RANGE_TAGS, (days[0], days[-1]))), named[backfill].selection.resolve(graph))
            print(f"  {days[0]}..{days[-1]}: {backfill} {run.status.value.lower()} (run {run.run_id})", file=out, flush=True)
            stopped += run.status != dg.DagsterRunStatus.SUCCESS
        for day in days:
            held: dict[dg.AssetKey, list[str]] = {}
            for name in jobs:
                ready, held_now = runnable(instance, graph, named[name].selection.resolve(graph), day)
                held |= held_now
                if not ready:
                    continue
                run = launched(name, {PARTITION_TAG: day}, ready)
                if run.status != dg.DagsterRunStatus.SUCCESS:
                    print(f"  {day}: stopped, {name} {run.status.value.lower()} (run {run.run_id})", file=out, flush=True)
                    stopped += 1
                    break
            else:
                said = "; ".join(f"{key.to_user_string()} held: {why[0]}" for key, why in held.items())
                print(f"  {day}: {', '.join(jobs)} succeeded" + (f" ({said})" if said else ""), file=out, flush=True)
    return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meridian", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("status", help="what ran for a date range, checks included")
    summary.add_argument("start")
    summary.add_argument("end")
    summary.add_argument("--require-deployed", action="store_true",
                         help="exit 1 unless a deployed model beats the dispatcher by the gate's margin")
    commands.add_parser("rollback", help="point deployed.json back at the previously deployed model")
    evaluating = commands.add_parser("evaluate", help="the models against the dispatcher and the noise floor")
    evaluating.add_argument("--truth", type=Path, required=True,
                            help="the synthetic vendor's answers (python -m meridian_assets.synthetic --truth)")
    launching = commands.add_parser("launch", help="each day of a range, its stages in order, launched as the UI would")
    launching.add_argument("start")
    launching.add_argument("end")
    launching.add_argument("--jobs", default=",".join(j.name for j in stage_jobs),
                           help="comma-separated, run in order per day (default: the day's stages)")
    launching.add_argument("--backfill", help="first, this job's assets over the whole range in one run "
                           "(as the UI's backfill of it), e.g. data_backfill")
    launching.add_argument("-w", "--workspace", default="workspace.yaml")
    launching.add_argument("--log", type=Path, default=Path(os.environ.get("DAGSTER_HOME", ".")) / "runs.log",
                           help="the runs' output (default $DAGSTER_HOME/runs.log)")
    commands.add_parser("generate", help="the synthetic vendor (see python -m meridian_assets.synthetic -h)",
                        add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "generate":
        from meridian_assets import synthetic

        return synthetic.main(rest) or 0
    if args.command == "launch":
        stopped = launch(dg.DagsterInstance.get(), [j for j in args.jobs.split(",") if j],
                         days_between(args.start, args.end), args.workspace, args.log, args.backfill)
        return 1 if stopped else 0
    from meridian_assets.definitions import defs

    definitions = defs()
    with dg.build_resources({"lake": definitions.resources["lake"]}) as resources:
        lake = resources.lake
    instance = dg.DagsterInstance.get()
    if args.command == "rollback":
        return rollback(instance, definitions, lake)
    if args.command == "evaluate":
        print(evaluate(instance, lake, args.truth))
        return 0
    print(status(args.start, args.end, instance, definitions))
    print("evaluation gate (a candidate must beat the dispatcher by 5% and not be significantly worse than the "
          "deployed model):")
    print("\n".join(gate_decisions(args.start, args.end, instance, lake)) or "  no candidates trained")
    line, good = deployed_summary(lake)
    print(line)
    return 1 if args.require_deployed and not good else 0


if __name__ == "__main__":
    sys.exit(main())
