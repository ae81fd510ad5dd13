"""Shared machinery of the data-quality checks and of the guard that blocks across runs.

A stage declares `Rule`s (one property each) over one partition of its table; `build_checks`
turns them into one multi-asset check that reads each day once. Range runs evaluate every
day of the range and record one result per check, naming the failing days.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors

import dagster as dg
from meridian_assets.contracts import Contract
from meridian_assets.defs.resources import Lake
from meridian_assets.partitions import daily_partitions
from spark_jobs.common import days_between, existing_partitions, partition_dir, shift_day

FORCE_TAG = "meridian/force"  # set to "true" to run on purpose past failed or missing checks


@dataclass
class Partition:
    """One day of a lake table, read once, with its earlier days at hand."""

    lake: Path
    table: str
    day: str

    @cached_property
    def frame(self) -> pd.DataFrame:
        return pd.read_parquet(partition_dir(self.lake, self.table, self.day))

    def history(self, days: int, columns: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """The existing partitions of the `days` days before this one (earliest first)."""
        wanted = [shift_day(self.day, -n) for n in range(days, 0, -1)]
        return {
            p.name.removeprefix("date="): pd.read_parquet(p, columns=columns)
            for p in existing_partitions(self.lake, self.table, wanted)
        }


@dataclass
class Outcome:
    passed: bool
    value: float | int | str
    threshold: float | int | str
    description: str
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str  # shown in the UI: what is checked and why it matters
    evaluate: Callable[[Partition], Outcome]
    blocking: bool = True  # False: a person should look (WARN), nothing is stopped


def build_checks(asset: str, table: str, rules: Sequence[Rule]) -> dg.AssetChecksDefinition:
    specs = [
        dg.AssetCheckSpec(r.name, asset=asset, description=r.description, blocking=r.blocking,
                          partitions_def=daily_partitions)
        for r in rules
    ]

    @dg.multi_asset_check(name=f"{asset}_checks", specs=specs, can_subset=True)
    def checks(context: dg.AssetCheckExecutionContext, lake: Lake) -> Iterable[dg.AssetCheckResult]:
        selected = {k.name for k in context.selected_asset_check_keys}
        chosen = [r for r in rules if r.name in selected]
        outcomes: dict[str, dict[str, Outcome]] = {r.name: {} for r in chosen}
        for day in context.partition_keys:
            partition = Partition(lake.path, table, day)
            for rule in chosen:
                outcomes[rule.name][day] = rule.evaluate(partition)
        for rule in chosen:
            yield _result(asset, rule, outcomes[rule.name])

    return checks


def _result(asset: str, rule: Rule, by_day: dict[str, Outcome]) -> dg.AssetCheckResult:
    failed = {d: o for d, o in by_day.items() if not o.passed}
    shown = next(iter(failed.values()), None) or next(iter(by_day.values()))
    severity = (
        dg.AssetCheckSeverity.ERROR
        if any(o.severity == dg.AssetCheckSeverity.ERROR for o in failed.values())
        else dg.AssetCheckSeverity.WARN if failed or not rule.blocking else dg.AssetCheckSeverity.ERROR
    )
    metadata = {"value": shown.value, "threshold": shown.threshold, **shown.extra}
    if len(by_day) > 1:
        metadata["days"] = dg.MetadataValue.json({d: {"passed": o.passed, "value": o.value} for d, o in by_day.items()})
        metadata["failed_days"] = ", ".join(failed) or "none"
    return dg.AssetCheckResult(
        asset_key=asset, check_name=rule.name, passed=not failed, severity=severity,
        description=("; ".join(f"{d}: {o.description}" for d, o in failed.items()) if failed else shown.description),
        metadata=metadata,
    )


def markdown_table(frame: pd.DataFrame, limit: int = 20) -> str:
    shown = frame.head(limit).astype(str)
    header = "| " + " | ".join(shown.columns) + " |\n|" + "---|" * len(shown.columns) + "\n"
    return header + "\n".join("| " + " | ".join(row) + " |" for row in shown.itertuples(index=False))


def contract_rule(contract: Contract) -> Rule:
    """The pandera contract: types, nulls, ranges, allowed values and uniqueness per column."""

    def evaluate(p: Partition) -> Outcome:
        try:
            contract.pandera_schema.validate(p.frame, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            cases = exc.failure_cases
            by_rule = (
                cases.groupby(["column", "check"], dropna=False).size().reset_index(name="count")
                .sort_values("count", ascending=False)
            )
            return Outcome(
                False, int(len(cases)), 0,
                "; ".join(f"column '{r.column}' breaks {r.check} ({r['count']} rows)" for _, r in by_rule.head(5).iterrows()),
                extra={
                    "failing_rules": dg.MetadataValue.md(markdown_table(by_rule)),
                    "failure_cases": dg.MetadataValue.md(markdown_table(
                        cases[["column", "check", "failure_case", "index"]], 20)),
                },
            )
        return Outcome(True, 0, 0, f"{len(p.frame)} rows match the {contract.asset_name} contract")

    return Rule(
        "contract", f"Every column of {contract.asset_name} has the contract's type and meets its rule "
        "(nulls, ranges, allowed values, uniqueness). Failure cases are listed.", evaluate,
    )


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference`, on the reference's deciles."""
    reference, current = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([reference[0] - 0.5, reference[0] + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    expected, actual = np.clip(expected, 1e-4, None), np.clip(actual, 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def check_outcomes(
    instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, days: set[str]
) -> dict[str, bool]:
    """Latest finished result per day: True passed, False failed; a day without one is absent.

    A range run records one result for all its days, so such a result counts for each day
    of the run's partition range.
    """
    outcomes: dict[str, bool] = {}
    run_days: dict[str, set[str]] = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=10_000):
        if record.status.value == "PLANNED":
            continue
        if record.partition is not None:
            covered = {record.partition}
        else:
            if record.run_id not in run_days:
                run_days[record.run_id] = _run_days(instance, record.run_id)
            covered = run_days[record.run_id]
        for day in covered & days:
            outcomes.setdefault(day, record.status.value == "SUCCEEDED")
    return outcomes


def _run_days(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    run = instance.get_run_by_id(run_id)
    tags = run.tags if run else {}
    if "dagster/partition" in tags:
        return {tags["dagster/partition"]}
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return set(days_between(start, end)) if start and end else set()


def require_upstream_checks(context: dg.AssetExecutionContext, history: Iterable[str] = ()) -> dict:
    """Fail unless every upstream asset exists for this partition and every blocking check
    upstream passed for it and for the `history` days used (a check that did not run fails too).

    Blocking checks stop downstream steps only inside one run; schedules, sensors and
    automation start new runs, so training and deployment look for themselves. A person
    may override with the run tag meridian/force=true: the tag records the choice.
    """
    from meridian_assets.definitions import asset_graph  # the location imports this module

    graph = asset_graph()
    day = context.partition_key
    days = set(history) | {day}
    problems = []
    for key in sorted(_ancestors(graph, context.asset_key), key=lambda k: k.to_user_string()):
        materialized = context.instance.get_materialized_partitions(key) & days
        if day not in materialized:
            problems.append(f"{key.to_user_string()} is not materialized for {day}")
        for check_key in graph.get_check_keys_for_assets({key}):
            if not graph.get_check_spec(check_key).blocking:
                continue
            outcomes = check_outcomes(context.instance, check_key, materialized)
            for checked_day in sorted(materialized):
                if checked_day not in outcomes:
                    problems.append(f"{key.to_user_string()}.{check_key.name} did not run for {checked_day}")
                elif not outcomes[checked_day]:
                    problems.append(f"{key.to_user_string()}.{check_key.name} failed for {checked_day}")
    forced = context.run.tags.get(FORCE_TAG) == "true"
    if problems and not forced:
        raise dg.Failure(
            description="Blocked: upstream blocking checks did not pass.\n" + "\n".join(problems[:30]),
            metadata={"problems": len(problems), "first": problems[0]},
            allow_retries=False,
        )
    if problems:
        context.log.warning(f"Forced past {len(problems)} check problems ({FORCE_TAG}=true): {problems[:5]}")
    return {"forced_past_checks": len(problems) if forced else 0}


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    frontier = [key]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in seen and graph.has(parent):
                seen.add(parent)
                frontier.append(parent)
    return seen
