"""Checks on the feature groups: contract, one row per upstream entity, null fractions."""

import pandas as pd

from meridian_assets import profiles
from meridian_assets import thresholds as t
from meridian_assets.contracts import FEATURES, SOURCES, Contract
from meridian_assets.defs.features.assets import GROUPS
from meridian_assets.lake import RAW_TABLES
from meridian_assets.quality import Outcome, Partition, Rule, build_checks, contract_rule
from spark_jobs.layout import shift_day

# How many rows a group must have: one per entity (per row, if the source lists none) of one
# raw source's last day in its window (for customers, the snapshot of the day before), taken
# from that day's profile.
UPSTREAM = {"gps": "gps", "route": "deliveries", "weather": "weather", "traffic": "traffic", "customer": "customers"}
JOBS = {g.name: g.job for g in GROUPS}


def _entities(profile: dict) -> int:
    return len(profile["entities"]) if "entities" in profile else profile["rows"]


def _row_count_rule(group: str) -> Rule:
    source = SOURCES[UPSTREAM[group]]
    offset = JOBS[group].INPUTS[source.name].end_offset

    def evaluate(p: Partition) -> Outcome:
        day = shift_day(p.day, offset)
        upstream = p.lake.partition(RAW_TABLES[source.name], day)
        expected = _entities(profiles.read(p.lake, source, day)) if upstream.is_dir() else 0
        rows = len(p.frame)
        if not upstream.is_dir() and offset < 0 and p.starts_history(RAW_TABLES[source.name]):
            return Outcome(rows == 0, rows, 0, f"no history yet: raw {source.name} has no day before {p.day}")
        return Outcome(rows == expected and rows > 0, rows, expected,
                       f"{rows} rows for {expected} upstream entities in raw {source.name} ({upstream.name}{'' if upstream.is_dir() else ' missing'})")

    return Rule("row_count_vs_upstream", f"One row per entity of raw {source.name}, and not empty: an empty or missing "
                "upstream day must not pass as a quiet day.", evaluate)


def _null_fraction_rule(contract: Contract) -> Rule:
    nullable = [c.name for c in contract.columns if c.nullable]

    def evaluate(p: Partition) -> Outcome:
        if p.starts_history():
            return p.no_history_yet(t.HISTORY_NULL_RATE_MAX)
        fractions = p.frame[nullable].isna().mean() if len(p.frame) else pd.Series(1.0, index=nullable)
        worst = fractions.idxmax()
        return Outcome(bool((fractions <= t.HISTORY_NULL_RATE_MAX).all()), round(float(fractions.max()), 4),
                       t.HISTORY_NULL_RATE_MAX, f"worst column {worst}: {fractions.max():.1%} null",
                       extra={"null_fractions": {k: round(float(v), 4) for k, v in fractions.items()}})

    return Rule("null_fractions", f"History columns ({', '.join(nullable)}) are null in at most "
                f"{t.HISTORY_NULL_RATE_MAX:.0%} of rows; early days have little history, so a person looks (WARN).",
                evaluate, blocking=False)


def feature_rules(contract: Contract) -> list[Rule]:
    return [contract_rule(contract), _row_count_rule(contract.name), _null_fraction_rule(contract)]


feature_checks = [
    build_checks(c.asset_name, f"features/{c.name}", feature_rules(c)) for c in FEATURES.values()
]
