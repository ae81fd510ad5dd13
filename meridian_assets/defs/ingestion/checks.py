"""Checks on the raw drops: the contract, and what no schema can see (stale, shifted, partial).

Rules over the day run in DuckDB over its Parquet; rules comparing it with earlier days read
their profiles (profiles.py), so a 40,000-vehicle day costs the same with 1 or 7 days of history.
"""

import numpy as np
import pandas as pd

from meridian_assets import profiles
from meridian_assets import thresholds as t
from meridian_assets.contracts import SOURCES, Contract
from meridian_assets.lake import RAW_TABLES
from meridian_assets.quality import Outcome, Partition, Rule, build_checks, contract_rule
from spark_jobs.layout import PREVIOUS_7_DAYS

GPS = SOURCES["gps"]
COMPARED_DAYS = -PREVIOUS_7_DAYS.start_offset


def _day_start_micros(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 1000)


def in_day_rule(contract: Contract) -> Rule:
    column = contract.time_column

    def evaluate(p: Partition) -> Outcome:
        start = _day_start_micros(p.day)
        outside, first, last = p.sql(
            f"SELECT count(*) FILTER (WHERE epoch_us({column}) < {start} OR epoch_us({column}) >= "
            f"{start + profiles.DAY_MICROS}), min({column}), max({column}) FROM day")[0]
        return Outcome(
            outside == 0, outside, 0,
            f"{outside} rows have {column} outside {p.day} UTC (first {first}, last {last})",
        )

    return Rule(
        "times_in_partition_day",
        f"Every {column} falls inside the partition's UTC day: a re-sent earlier day or a "
        "timezone error puts rows outside it.", evaluate,
    )


def unique_key_rule(contract: Contract, max_rate: float = 0.0) -> Rule:
    key = ", ".join(contract.key)

    def evaluate(p: Partition) -> Outcome:
        repeated, rows = p.sql(f"SELECT coalesce(sum(n - 1), 0), coalesce(sum(n), 0) FROM "
                               f"(SELECT count(*) AS n FROM day GROUP BY {key})")[0]
        rate = int(repeated) / max(int(rows), 1)
        return Outcome(rate <= max_rate, round(rate, 6), max_rate, f"{repeated} rows repeat a ({key})")

    return Rule("unique_key", f"({key}) identifies a row (duplicate share at most {max_rate}).", evaluate)


def _gps_days(p: Partition) -> tuple[dict, dict[str, dict]]:
    """The day's GPS profile and those of the days it is compared with: never their rows."""
    return profiles.read(p.lake, GPS, p.day), profiles.history(p.lake, GPS, p.day, PREVIOUS_7_DAYS)


def _not_a_copy(p: Partition) -> Outcome:
    today, history = _gps_days(p)
    copies = [d for d, profile in history.items() if profile["fingerprint"] == today["fingerprint"]]
    return Outcome(not copies, ", ".join(copies) or "none", "no identical day",
                   f"identical content to {', '.join(copies)}" if copies
                   else f"content differs from the last {COMPARED_DAYS} days")


def _fleet_reporting(p: Partition) -> Outcome:
    today, history = _gps_days(p)
    if not history:
        return Outcome(True, "no history", t.FLEET_REPORTING_MIN, "no earlier days to compare with")
    fleet = set().union(*(profile["entities"] for profile in history.values()))
    share = len(fleet & set(today["entities"])) / len(fleet)
    return Outcome(share >= t.FLEET_REPORTING_MIN, round(share, 4), t.FLEET_REPORTING_MIN,
                   f"{share:.1%} of the {len(fleet)} vehicles active in the last {COMPARED_DAYS} days report today")


def _volume(p: Partition) -> Outcome:
    today, history = _gps_days(p)
    if not history:
        return Outcome(True, "no history", f"{t.VOLUME_RATIO_MIN}..{t.VOLUME_RATIO_MAX}", "no earlier days")
    median = float(np.median([profile["rows"] for profile in history.values()]))
    ratio = today["rows"] / median
    return Outcome(t.VOLUME_RATIO_MIN <= ratio <= t.VOLUME_RATIO_MAX, round(ratio, 4),
                   f"{t.VOLUME_RATIO_MIN}..{t.VOLUME_RATIO_MAX}",
                   f"{today['rows']} pings, {ratio:.2f} x the {COMPARED_DAYS}-day median of {median:.0f}")


def _heading_nulls(p: Partition) -> Outcome:
    today = profiles.read(p.lake, GPS, p.day)
    rate = today["nulls"]["heading_deg"] / max(today["rows"], 1)
    return Outcome(rate <= t.HEADING_NULL_RATE_MAX, round(rate, 4), t.HEADING_NULL_RATE_MAX,
                   f"{rate:.1%} of pings have no heading")


def _activity_shift(p: Partition) -> Outcome:
    today, history = _gps_days(p)
    if not history:
        return Outcome(True, "no history", t.ACTIVITY_SHIFT_MAX_HOURS, "no earlier days")
    shift = today["mean_hour"] - float(np.mean([profile["mean_hour"] for profile in history.values()]))
    return Outcome(abs(shift) <= t.ACTIVITY_SHIFT_MAX_HOURS, round(shift, 3), t.ACTIVITY_SHIFT_MAX_HOURS,
                   f"mean ping time moved {shift:+.2f} h against the last {COMPARED_DAYS} days")


GPS_RULES = [
    Rule("not_a_copy", f"The day's pings are not a copy of one of the {COMPARED_DAYS} days before, even "
         "re-stamped with today's dates (the stale snapshot that once ran for a week).", _not_a_copy),
    Rule("fleet_reporting", f"At least {t.FLEET_REPORTING_MIN:.0%} of the vehicles active in the last "
         f"{COMPARED_DAYS} days report: a partial drop covers part of the fleet.", _fleet_reporting),
    Rule("volume_vs_history", f"Ping count within {t.VOLUME_RATIO_MIN}-{t.VOLUME_RATIO_MAX} x the "
         f"{COMPARED_DAYS}-day median.", _volume),
    Rule("heading_null_rate", f"At most {t.HEADING_NULL_RATE_MAX:.0%} of pings lack a heading.", _heading_nulls),
    Rule("activity_hours", f"The fleet's mean ping time stays within {t.ACTIVITY_SHIFT_MAX_HOURS} h of the "
         f"last {COMPARED_DAYS} days: a timezone error shifts it.", _activity_shift),
]


def _label_sanity(p: Partition) -> Outcome:
    minutes = "(epoch_us(actual_arrival_ts) - epoch_us(actual_departure_ts)) / 6e7"
    bad, share = p.sql(
        "SELECT count(*) FILTER (WHERE status = 'delivered' AND NOT coalesce("
        f"{minutes} BETWEEN {t.DELIVERY_MINUTES_MIN} AND {t.DELIVERY_MINUTES_MAX}, false))"
        " + count(*) FILTER (WHERE status IS DISTINCT FROM 'delivered' AND actual_arrival_ts IS NOT NULL)"
        " + count(*) FILTER (WHERE status = 'cancelled' AND actual_departure_ts IS NOT NULL),"
        " coalesce(avg(CASE WHEN status = 'delivered' THEN 1.0 ELSE 0.0 END), 0) FROM day")[0]
    return Outcome(bad == 0 and share >= t.DELIVERED_SHARE_MIN, bad,
                   f"0 bad labels, delivered share >= {t.DELIVERED_SHARE_MIN}",
                   f"{bad} rows with an impossible label or status; {share:.1%} delivered")


def _hours_complete(p: Partition) -> Outcome:
    hours = dict(p.sql("SELECT region, count(DISTINCT observed_ts) FROM day WHERE region IS NOT NULL "
                       "GROUP BY region ORDER BY region"))
    short = {region: n for region, n in hours.items() if n < 24}
    return Outcome(not short and len(hours) > 0, len(short), "every region 24 hours",
                   f"{len(short)} of {len(hours)} regions miss hours: {short}" if short
                   else f"{len(hours)} regions x 24 hours")


EXTRA_RULES = {
    "gps": GPS_RULES,
    "deliveries": [Rule("label_sanity", "Delivered stops take "
                        f"{t.DELIVERY_MINUTES_MIN:.0f}-{t.DELIVERY_MINUTES_MAX:.0f} minutes, others have no arrival, "
                        f"cancelled ones no departure, and at least {t.DELIVERED_SHARE_MIN:.0%} are delivered.",
                        _label_sanity)],
    "weather": [Rule("hours_complete", "Every region reports all 24 hours.", _hours_complete)],
    "traffic": [Rule("hours_complete", "Every region reports all 24 hours.", _hours_complete)],
}


def raw_rules(contract: Contract) -> list[Rule]:
    rules = [contract_rule(contract)]
    if contract.time_column:
        rules.append(in_day_rule(contract))
    rate = t.GPS_DUPLICATE_RATE_MAX if contract.name == "gps" else 0.0
    return [*rules, unique_key_rule(contract, rate), *EXTRA_RULES.get(contract.name, [])]


raw_checks = [build_checks(c.asset_name, RAW_TABLES[c.name], raw_rules(c)) for c in SOURCES.values()]
