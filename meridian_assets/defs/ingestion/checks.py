"""Checks on the raw drops: the contract, and what no schema can see (stale, shifted, partial)."""

import numpy as np
import pandas as pd

from meridian_assets import thresholds as t
from meridian_assets.contracts import SOURCES, Contract
from meridian_assets.lake import RAW_TABLES
from meridian_assets.quality import Outcome, Partition, Rule, build_checks, contract_rule

HISTORY_DAYS = 7


def in_day_rule(contract: Contract) -> Rule:
    column = contract.time_column

    def evaluate(p: Partition) -> Outcome:
        times = p.frame[column]
        start = pd.Timestamp(p.day, tz="UTC")
        outside = int(((times < start) | (times >= start + pd.Timedelta(days=1))).sum())
        return Outcome(
            outside == 0, outside, 0,
            f"{outside} rows have {column} outside {p.day} UTC (first {times.min()}, last {times.max()})",
        )

    return Rule(
        "times_in_partition_day",
        f"Every {column} falls inside the partition's UTC day: a re-sent earlier day or a "
        "timezone error puts rows outside it.", evaluate,
    )


def unique_key_rule(contract: Contract, max_rate: float = 0.0) -> Rule:
    key = list(contract.key)

    def evaluate(p: Partition) -> Outcome:
        repeated = int(p.frame.duplicated(subset=key).sum())
        rate = repeated / max(len(p.frame), 1)
        return Outcome(rate <= max_rate, round(rate, 6), max_rate, f"{repeated} rows repeat a ({', '.join(key)})")

    return Rule("unique_key", f"({', '.join(key)}) identifies a row (duplicate share at most {max_rate}).", evaluate)


def _fingerprint(frame: pd.DataFrame) -> int:
    """Content of a GPS day independent of its date: a copy of another day has the same one."""
    seconds = (frame["event_ts"] - frame["event_ts"].dt.floor("D")).dt.total_seconds()
    content = frame[["vehicle_id", "lat", "lon", "speed_kph"]].assign(seconds=seconds)
    return int(pd.util.hash_pandas_object(content, index=False).to_numpy().sum(dtype=np.uint64))


def _not_a_copy(p: Partition) -> Outcome:
    today = _fingerprint(p.frame)
    copies = [d for d, f in p.history(HISTORY_DAYS, ["vehicle_id", "event_ts", "lat", "lon", "speed_kph"]).items()
              if _fingerprint(f) == today]
    return Outcome(not copies, ", ".join(copies) or "none", "no identical day",
                   f"identical content to {', '.join(copies)}" if copies else "content differs from the last 7 days")


def _fleet_reporting(p: Partition) -> Outcome:
    history = p.history(HISTORY_DAYS, ["vehicle_id"])
    if not history:
        return Outcome(True, "no history", t.FLEET_REPORTING_MIN, "no earlier days to compare with")
    fleet = set().union(*(set(f["vehicle_id"].unique()) for f in history.values()))
    share = len(fleet & set(p.frame["vehicle_id"].unique())) / len(fleet)
    return Outcome(share >= t.FLEET_REPORTING_MIN, round(share, 4), t.FLEET_REPORTING_MIN,
                   f"{share:.1%} of the {len(fleet)} vehicles active in the last 7 days report today")


def _volume(p: Partition) -> Outcome:
    history = p.history(HISTORY_DAYS, ["vehicle_id"])
    if not history:
        return Outcome(True, "no history", f"{t.VOLUME_RATIO_MIN}..{t.VOLUME_RATIO_MAX}", "no earlier days")
    median = float(np.median([len(f) for f in history.values()]))
    ratio = len(p.frame) / median
    return Outcome(t.VOLUME_RATIO_MIN <= ratio <= t.VOLUME_RATIO_MAX, round(ratio, 4),
                   f"{t.VOLUME_RATIO_MIN}..{t.VOLUME_RATIO_MAX}",
                   f"{len(p.frame)} pings, {ratio:.2f} x the 7-day median of {median:.0f}")


def _heading_nulls(p: Partition) -> Outcome:
    rate = float(p.frame["heading_deg"].isna().mean())
    return Outcome(rate <= t.HEADING_NULL_RATE_MAX, round(rate, 4), t.HEADING_NULL_RATE_MAX,
                   f"{rate:.1%} of pings have no heading")


def _mean_hour(frame: pd.DataFrame) -> float:
    ts = frame["event_ts"]
    return float((ts - ts.dt.floor("D")).dt.total_seconds().mean() / 3600)


def _activity_shift(p: Partition) -> Outcome:
    history = p.history(HISTORY_DAYS, ["event_ts"])
    if not history:
        return Outcome(True, "no history", t.ACTIVITY_SHIFT_MAX_HOURS, "no earlier days")
    shift = _mean_hour(p.frame) - float(np.mean([_mean_hour(f) for f in history.values()]))
    return Outcome(abs(shift) <= t.ACTIVITY_SHIFT_MAX_HOURS, round(shift, 3), t.ACTIVITY_SHIFT_MAX_HOURS,
                   f"mean ping time moved {shift:+.2f} h against the last 7 days")


GPS_RULES = [
    Rule("not_a_copy", "The day's pings are not a copy of one of the 7 days before (the stale "
         "snapshot that once ran for a week).", _not_a_copy),
    Rule("fleet_reporting", f"At least {t.FLEET_REPORTING_MIN:.0%} of the vehicles active in the last 7 days "
         "report: a partial drop covers part of the fleet.", _fleet_reporting),
    Rule("volume_vs_history", f"Ping count within {t.VOLUME_RATIO_MIN}-{t.VOLUME_RATIO_MAX} x the 7-day median.",
         _volume),
    Rule("heading_null_rate", f"At most {t.HEADING_NULL_RATE_MAX:.0%} of pings lack a heading.", _heading_nulls),
    Rule("activity_hours", f"The fleet's mean ping time stays within {t.ACTIVITY_SHIFT_MAX_HOURS} h of the "
         "last 7 days: a timezone error shifts it.", _activity_shift),
]


def _label_sanity(p: Partition) -> Outcome:
    d = p.frame
    delivered = d["status"].eq("delivered")
    minutes = (d["actual_arrival_ts"] - d["actual_departure_ts"]).dt.total_seconds() / 60
    bad = int((delivered & ~minutes.between(t.DELIVERY_MINUTES_MIN, t.DELIVERY_MINUTES_MAX)).sum()
              + (~delivered & d["actual_arrival_ts"].notna()).sum()
              + (d["status"].eq("cancelled") & d["actual_departure_ts"].notna()).sum())
    share = float(delivered.mean())
    return Outcome(bad == 0 and share >= t.DELIVERED_SHARE_MIN, bad,
                   f"0 bad labels, delivered share >= {t.DELIVERED_SHARE_MIN}",
                   f"{bad} rows with an impossible label or status; {share:.1%} delivered")


def _hours_complete(p: Partition) -> Outcome:
    hours = p.frame.groupby("region")["observed_ts"].nunique()
    short = hours[hours < 24]
    return Outcome(short.empty and len(hours) > 0, int(len(short)), "every region 24 hours",
                   f"{len(short)} of {len(hours)} regions miss hours: {dict(short)}" if len(short)
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
