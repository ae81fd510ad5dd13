"""`meridian`: the operator's command line beside the Dagster CLI."""

from __future__ import annotations

import argparse
import sys

import dagster as dg

from spark_jobs.common import days_between


def status(start: str, end: str, instance: dg.DagsterInstance, defs: dg.Definitions) -> str:
    """Per asset: partitions of the range materialized, and its checks' latest outcome per day."""
    days = set(days_between(start, end))
    graph = defs.resolve_asset_graph()
    lines = [f"{'asset':<28}{'partitions':>12}{'checks passed':>15}{'failed':>8}{'not run':>9}"]
    for key in graph.get_all_asset_keys():
        done = instance.get_materialized_partitions(key) & days
        passed = failed = missing = 0
        for check_key in graph.get_check_keys_for_assets({key}):
            latest = _latest_check_outcomes(instance, check_key, days)
            passed += sum(1 for ok in latest.values() if ok)
            failed += sum(1 for ok in latest.values() if not ok)
            missing += len(done - latest.keys())
        lines.append(
            f"{key.to_user_string():<28}{f'{len(done)}/{len(days)}':>12}{passed:>15}{failed:>8}{missing:>9}"
        )
    return "\n".join(lines)


def _latest_check_outcomes(instance, check_key, days: set[str]) -> dict[str, bool]:
    """Latest evaluation per day: records come newest first."""
    outcomes: dict[str, bool] = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=10_000):
        evaluation = record.evaluation
        if record.partition in days and record.partition not in outcomes and evaluation is not None:
            outcomes[record.partition] = evaluation.passed
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meridian", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    summary = commands.add_parser("status", help="what ran for a date range, checks included")
    summary.add_argument("start")
    summary.add_argument("end")
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

    print(status(args.start, args.end, dg.DagsterInstance.get(), defs()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
