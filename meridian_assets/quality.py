"""The machinery of the data-quality checks.

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
from scipy.stats import chi2

import dagster as dg
from meridian_assets.contracts import Contract
from meridian_assets.lake import Lake
from meridian_assets.partitions import daily_partitions
from spark_jobs.layout import existing_partitions, has_partition_before, partition_dir, shift_day

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

    def starts_history(self, table: str | None = None) -> bool:
        """No partition of `table` (default: this one's) before this day: the platform's first."""
        return not has_partition_before(self.lake, table or self.table, self.day)

    def no_history_yet(self, threshold) -> "Outcome":
        """The pass of a history rule on the first day: nothing earlier can be missing."""
        return Outcome(True, "no history yet", threshold, f"{self.day} is the first day of {self.table}")


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


@dataclass(frozen=True)
class Drift:
    """A population stability index and what sampling noise alone could give at these sizes."""

    psi: float
    bins: int
    current_rows: int
    reference_rows: int

    def noise_limit(self, false_alarm_rate: float) -> float:
        """PSI that sampling alone exceeds with probability `false_alarm_rate`: for two samples of
        one distribution, PSI ~ (1/n + 1/m) x chi-square(bins - 1)."""
        scale = 1 / max(self.current_rows, 1) + 1 / max(self.reference_rows, 1)
        return float(chi2.isf(false_alarm_rate, max(self.bins - 1, 1)) * scale)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected, actual = np.clip(expected, 1e-4, None), np.clip(actual, 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> Drift:
    """Population stability index of `current` against `reference`, on the reference's deciles."""
    reference, current = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(reference) == 0 or len(current) == 0:
        return Drift(0.0, 1, len(current), len(reference))
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([reference[0] - 0.5, reference[0] + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    return Drift(_psi(expected, actual), len(edges) - 1, len(current), len(reference))


def category_psi(reference: pd.Series, current: pd.Series) -> Drift:
    """Population stability index of a categorical column: one bin per value seen in either."""
    reference, current = reference.dropna(), current.dropna()
    if reference.empty or current.empty:
        return Drift(0.0, 1, len(current), len(reference))
    values = sorted(set(reference) | set(current))
    expected = reference.value_counts(normalize=True).reindex(values, fill_value=0).to_numpy()
    actual = current.value_counts(normalize=True).reindex(values, fill_value=0).to_numpy()
    return Drift(_psi(expected, actual), len(values), len(current), len(reference))
