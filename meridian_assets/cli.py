"""`meridian`: the operator's command line beside the Dagster CLI."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import dagster as dg

from meridian_assets import thresholds
from meridian_assets.defs.ml import store
from meridian_assets.defs.ml.assets import Deployment, candidate_version, deployed_model
from meridian_assets.guard import FAILED, PASSED, WARNED, check_outcomes
from spark_jobs.layout import days_between


def status(start: str, end: str, instance: dg.DagsterInstance, defs: dg.Definitions) -> str:
    """Per asset: partitions of the range materialized, and its checks' latest outcome per day."""
    days = set(days_between(start, end))
    graph = defs.resolve_asset_graph()
    lines = [f"{'asset':<28}{'partitions':>12}{'checks passed':>15}{'warned':>8}{'failed':>8}{'not run':>9}"]
    for key in graph.toposorted_asset_keys:
        if not graph.get(key).is_materializable:
            continue  # the landing drops: vendors write them
        done = instance.get_materialized_partitions(key) & days
        counts = Counter()
        for check_key in graph.get_check_keys_for_assets({key}):
            latest = check_outcomes(instance, check_key, days)
            counts.update(latest.values())
            counts["not run"] += len(done - latest.keys())
        lines.append(
            f"{key.to_user_string():<28}{f'{len(done)}/{len(days)}':>12}{counts[PASSED]:>15}{counts[WARNED]:>8}"
            f"{counts[FAILED]:>8}{counts['not run']:>9}"
        )
    return "\n".join(lines)


def gate_decisions(start: str, end: str, instance: dg.DagsterInstance, lake: Path) -> list[str]:
    """What the evaluation gate decided per day: deploying a candidate, or keeping the model in place."""
    days = days_between(start, end)
    gate = dg.AssetCheckKey(dg.AssetKey("delivery_time_model"), "evaluation_gate")
    outcomes = check_outcomes(instance, gate, set(days))
    lines = []
    for day in days:
        if day not in outcomes:
            continue
        metrics = store.load_info(lake, candidate_version(instance, day))["metrics"]
        deployed = metrics["deployed_mae_on_holdout"]
        verdict = "deployed" if outcomes[day] == PASSED else "refused, the deployed model stays"
        against = f", deployed model {deployed:.2f}" if deployed is not None else ""
        lines.append(f"  {day}: candidate MAE {metrics['mae']:.2f} (dispatcher {metrics['baseline_mae']:.2f}"
                     f"{against}): {verdict}")
    return lines


def deployed_summary(lake: Path) -> tuple[str, bool]:
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
    return line, gain >= 1 - thresholds.GATE_BASELINE_RATIO


def rollback(instance: dg.DagsterInstance, definitions: dg.Definitions, lake: Path) -> int:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meridian", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("status", help="what ran for a date range, checks included")
    summary.add_argument("start")
    summary.add_argument("end")
    summary.add_argument("--require-deployed", action="store_true",
                         help="exit 1 unless a deployed model beats the dispatcher by the gate's margin")
    commands.add_parser("rollback", help="point deployed.json back at the previously deployed model")
    listing = commands.add_parser("days", help="print the days of a range, one a line")
    listing.add_argument("start")
    listing.add_argument("end")
    commands.add_parser("generate", help="the synthetic vendor (see python -m meridian_assets.synthetic -h)",
                        add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "generate":
        from meridian_assets import synthetic

        return synthetic.main(rest) or 0
    if args.command == "days":
        print("\n".join(days_between(args.start, args.end)))
        return 0
    from meridian_assets.definitions import defs

    definitions = defs()
    with dg.build_resources({"lake": definitions.resources["lake"]}) as resources:
        lake = resources.lake.path
    instance = dg.DagsterInstance.get()
    if args.command == "rollback":
        return rollback(instance, definitions, lake)
    print(status(args.start, args.end, instance, definitions))
    print("evaluation gate (a candidate must beat the dispatcher by 5% and the deployed model):")
    print("\n".join(gate_decisions(args.start, args.end, instance, lake)) or "  no candidates trained")
    line, good = deployed_summary(lake)
    print(line)
    return 1 if args.require_deployed and not good else 0


if __name__ == "__main__":
    sys.exit(main())
