"""The machinery of the data-quality checks.

A stage declares `Rule`s (one property each) over one partition of its table; `build_checks`
turns them into one multi-asset check that reads each day once. Range runs evaluate every
day of the range and record each day's result on its own day (`on_their_days`).
"""

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

import dagster as dg
from meridian_assets.contracts import ACCEPTS, ARROW_TYPES, Check, Contract
from meridian_assets.dagster_private import evaluation_of
from meridian_assets.guard import Fitness, location_graph
from meridian_assets.lineage import held_downstream
from meridian_assets.lake import Lake, duckdb_connection, parquet
from meridian_assets.metadata import readable
from meridian_assets.partitions import daily_partitions, waiting_lines
from meridian_assets.profiles import is_null
from spark_jobs.layout import Window, existing_partitions

@dataclass
class Partition:
    """One day of a lake table, read once, with its earlier days at hand."""

    lake: Lake
    table: str
    day: str
    asset: str = ""
    fitness: Fitness | None = None

    @cached_property
    def path(self) -> Path:
        return self.lake.partition(self.table, self.day)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The day in pandas: for the small tables (features, ml table); raw days go through `sql`."""
        return pd.read_parquet(self.path)

    def sql(self, query: str) -> list[tuple]:
        """`query` over the day's rows as the view `day`, in DuckDB: bounded memory at any fleet size."""
        with duckdb_connection() as db:
            db.execute(f"CREATE VIEW day AS SELECT * FROM {parquet(self.path)}")
            return db.execute(query).fetchall()

    def history(self, window: Window, columns: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """The existing partitions of the window's days (earliest first)."""
        days = window.days(self.day, self.day)
        return {
            p.name.removeprefix("date="): pd.read_parquet(p, columns=columns)
            for p in existing_partitions(self.lake.read(self.table, days), self.table, days)
        }

    def starts_history(self, table: str | None = None) -> bool:
        """No partition of `table` (default: this one's) before this day: the platform's first."""
        return not self.lake.has_partition_before(table or self.table, self.day)

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
        graph = location_graph(context)
        fitness = Fitness(context.instance, graph)
        # A range's days, each judged as its newest materialization, read once for every rule.
        targets = newest_materializations(context.instance, dg.AssetKey(asset), context.partition_keys) \
            if len(context.partition_keys) > 1 else {}
        for day in context.partition_keys:
            partition = Partition(lake, table, day, asset, fitness)
            for rule in chosen:
                outcomes[rule.name][day] = rule.evaluate(partition)
        for rule in chosen:
            results = {day: _result(asset, rule, day, outcome, graph) for day, outcome in outcomes[rule.name].items()}
            yield from results.values() if len(results) == 1 else on_their_days(context, results, targets)

    return checks


def latest_materialization(instance: dg.DagsterInstance, key: dg.AssetKey, day: str) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1)
    return records.records[0] if records.records else None


def newest_materializations(instance: dg.DagsterInstance, key: dg.AssetKey,
                            days: Iterable[str]) -> dict[str, dg.EventLogRecord | None]:
    """Each day's newest materialization of `key`: what a check run after it judges."""
    return {day: latest_materialization(instance, key, day) for day in days}


def on_their_days(context, results: Mapping[str, dg.AssetCheckResult],
                  targets: Mapping[str, dg.EventLogRecord | None]) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """One check's result for each day, recorded on that day as the judgement of the day's
    materialization it read (`targets`), so Dagster and the guard count it as current. Dagster 1.13 records a multi-day step's AssetCheckResult once without a partition
    or target and leaves each day's planned row unresolved. A blocking ERROR still fails the step."""
    first = next(iter(results.values()))
    key = dg.AssetCheckKey(dg.AssetKey.from_coercible(first.asset_key), first.check_name)
    assets_def = context.op_execution_context.assets_def
    blocking = assets_def.get_spec_for_check_key(key).blocking
    yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(key))
    for day, result in results.items():
        yield evaluation_of(result, key, day, blocking, targets[day])


def _result(asset: str, rule: Rule, day: str, outcome: Outcome, graph) -> dg.AssetCheckResult:
    # A rule that blocks nothing only ever warns, whatever its outcome says.
    severity = (
        dg.AssetCheckSeverity.WARN
        if not rule.blocking or (not outcome.passed and outcome.severity == dg.AssetCheckSeverity.WARN)
        else dg.AssetCheckSeverity.ERROR
    )
    metadata = {"value": outcome.value, "threshold": outcome.threshold, **outcome.extra}
    description = outcome.description if outcome.passed else f"{day}: {outcome.description}"
    if severity == dg.AssetCheckSeverity.ERROR and not outcome.passed:
        # What this failure holds back, through the lineage's partition mappings, where people read.
        waiting = held_downstream(graph, [dg.AssetKey(asset)], [day])
        metadata["blocks"] = "; ".join(waiting_lines(waiting)) or "nothing"
        description += f". Blocks: {metadata['blocks']}"
    return dg.AssetCheckResult(
        asset_key=asset, check_name=rule.name, passed=outcome.passed, severity=severity,
        description=description,
        metadata=readable(metadata),
    )


def _inputs_fit(p: Partition) -> Outcome:
    problems = p.fitness.input_problems(dg.AssetKey(p.asset), p.day)
    return Outcome(not problems, len(problems), 0, "; ".join(problems[:5]) or "every partition it reads is fit to use",
                   extra={"problems": dg.MetadataValue.json(problems[:30])})


INPUTS_FIT = Rule(
    "inputs_fit", "Every partition the day reads through its partition mappings (other days included: the "
    "previous day's GPS features) is materialized and passed its blocking checks, and so is all they read. "
    "Built from unfit inputs, the day is recorded unfit: nothing trains on it or is judged on it.", _inputs_fit,
)


def markdown_table(frame: pd.DataFrame, limit: int = 20) -> str:
    shown = frame.head(limit).astype(str)
    header = "| " + " | ".join(shown.columns) + " |\n|" + "---|" * len(shown.columns) + "\n"
    return header + "\n".join("| " + " | ".join(row) + " |" for row in shown.itertuples(index=False))


def _literal(value) -> str:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def check_sql(check: Check, column: str) -> str:
    """The condition a valid value meets, in SQL: the pandera checks the contracts use, compiled.
    A custom check carries its own (`statistics={"sql": ...}`)."""
    s = check.statistics
    low = f"{column} {'>=' if s.get('include_min', True) else '>'} {_literal(s.get('min_value'))}"
    high = f"{column} {'<=' if s.get('include_max', True) else '<'} {_literal(s.get('max_value'))}"
    compiled = {
        "in_range": lambda: f"{low} AND {high}",
        "greater_than_or_equal_to": lambda: low,
        "greater_than": lambda: f"{column} > {_literal(s.get('min_value'))}",
        "less_than_or_equal_to": lambda: high,
        "less_than": lambda: f"{column} < {_literal(s.get('max_value'))}",
        "isin": lambda: f"{column} IN ({', '.join(_literal(v) for v in s.get('allowed_values', ()))})",
    }
    if "sql" in s:
        return s["sql"].format(column=column)
    if check.name not in compiled:
        raise ValueError(f"pandera check {check.name} has no SQL: declare it with statistics={{'sql': ...}}")
    return compiled[check.name]()


def _structure(contract: Contract, found: pa.Schema) -> list[tuple[str, str, str]]:
    """(column, check, failure case) for every missing, mistyped or unexpected column."""
    problems = []
    for col in contract.columns:
        if col.name not in found.names:
            problems.append((col.name, "column_in_dataframe", "missing"))
        elif not (ACCEPTS[col.kind] if contract.coerce else ARROW_TYPES[col.kind].equals)(found.field(col.name).type):
            problems.append((col.name, f"dtype('{col.kind}')", str(found.field(col.name).type)))
    expected = {c.name for c in contract.columns}
    return problems + [(name, "column_in_schema", "unexpected") for name in found.names if name not in expected]


def _violations(contract: Contract, present: set[str]) -> dict[tuple[str, str], str]:
    """(column, check) -> the SQL condition of a row that breaks it, for the columns present.
    Nulls break only `not_nullable`: pandera skips them in every other check."""
    rules = {}
    for col in contract.columns:
        if col.name not in present:
            continue
        name, null = f'"{col.name}"', is_null(col)
        if not col.nullable:
            rules[(col.name, "not_nullable")] = null
        for check in col.checks:  # the pandera checks the schema is built from
            rules[(col.name, check.label)] = f"NOT {null} AND NOT ({check_sql(check, name)})"
    return rules


def contract_failures(p: Partition, contract: Contract) -> tuple[int, dict[tuple[str, str], int], list[tuple]]:
    """The day's rows, the rows breaking each (column, check) of the contract, and the cases of
    the structural ones (missing, mistyped, unexpected columns: no value check runs on those)."""
    structure = _structure(contract, ds.dataset(p.path, format="parquet").schema)
    present = {c.name for c in contract.columns} - {column for column, *_ in structure}
    rules = _violations(contract, present)
    counts = p.sql("SELECT count(*)" + "".join(f", count(*) FILTER (WHERE {w})" for w in rules.values()) + " FROM day")[0]
    failing = {key: n for key, n in zip(rules, counts[1:]) if n} | {(c, k): 1 for c, k, _ in structure}
    cases = [(c, k, case, "", "") for c, k, case in structure] + _examples(p, rules, failing)
    for col in contract.columns:
        if col.unique and col.name in present:
            # Every row of a repeated value counts, as in pandera; the most repeated are the cases.
            repeated = p.sql(f'SELECT CAST("{col.name}" AS VARCHAR), n, sum(n) OVER () FROM (SELECT "{col.name}", '
                             f'count(*) AS n FROM day WHERE NOT {is_null(col)} GROUP BY 1 HAVING n > 1) '
                             f'ORDER BY n DESC LIMIT 5')
            if repeated:
                failing[(col.name, "field_uniqueness")] = int(repeated[0][2])
                cases += [(col.name, "field_uniqueness", value, "", f"{n} rows") for value, n, _ in repeated]
    return counts[0], failing, cases


def contract_rule(contract: Contract) -> Rule:
    """The pandera contract (types, nulls, ranges, allowed values, uniqueness per column),
    compiled to SQL and run in DuckDB over the day's Parquet: one pass, any day's size."""

    def evaluate(p: Partition) -> Outcome:
        rows, failing, cases = contract_failures(p, contract)
        if not failing:
            return Outcome(True, 0, 0, f"{rows} rows match the {contract.asset_name} contract")
        by_rule = pd.DataFrame([(c, k, n) for (c, k), n in failing.items()], columns=["column", "check", "count"]
                               ).sort_values("count", ascending=False)
        return Outcome(
            False, int(by_rule["count"].sum()), 0,
            "; ".join(f"column '{r.column}' breaks {r.check} ({r.count} rows)" for r in by_rule.head(5).itertuples()),
            extra={"failing_rules": dg.MetadataValue.md(markdown_table(by_rule)),
                   "failure_cases": dg.MetadataValue.md(markdown_table(
                       pd.DataFrame(cases, columns=["column", "check", "failure_case", "file", "row"]), 20))},
        )

    return Rule(
        "contract", f"Every column of {contract.asset_name} has the contract's type and meets its rule "
        "(nulls, ranges, allowed values, uniqueness). Failure cases are listed.", evaluate,
    )


def _examples(p: Partition, rules: dict, failing: dict, limit: int = 5) -> list[tuple]:
    """A few failing rows per broken value rule: the value, the lake file and its row number."""
    source = parquet(p.path, filename=True, file_row_number=True)
    queries = [
        f"(SELECT {_literal(column)}, {_literal(check)}, CAST(\"{column}\" AS VARCHAR), parse_filename(filename), "
        f"file_row_number FROM {source} WHERE {rules[(column, check)]} LIMIT {limit})"
        for column, check in failing if (column, check) in rules
    ]
    if not queries:
        return []
    with duckdb_connection() as db:
        return db.execute(" UNION ALL ".join(queries)).fetchall()


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
        from scipy.stats import chi2  # in the check's step, not with the code location

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
