"""The one partitioning of the code location, and the history windows as partition mappings.

History windows are partition mappings, not hidden reads of other days, so lineage and
backfills know about them. Each window is declared once, in `spark_jobs/layout.py`, where the
jobs and checks read their days from; here it becomes the mapping Dagster sees. Each ends the
day before D, or at D for inputs of the day itself: that is the point-in-time rule.
"""

import re
from collections.abc import Iterable
from datetime import date

import dagster as dg
from spark_jobs.layout import SAME_DAY, TRAINING_WINDOW_AND_HOLDOUT, Window, shift_day

START_DATE = "2024-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")


def mapping(window: Window) -> dg.TimeWindowPartitionMapping | None:
    """The partition mapping of a window; the day itself needs none (identity)."""
    if window == SAME_DAY:
        return None
    return dg.TimeWindowPartitionMapping(start_offset=window.start_offset, end_offset=window.end_offset)


training_window_and_holdout = mapping(TRAINING_WINDOW_AND_HOLDOUT)


DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")


def not_a_partition(name: str) -> str | None:
    """Why `name` (a landing folder, a key typed by a person) is not a day partition yet, or None.
    Checked before a name becomes a path or a run."""
    if not DAY_PATTERN.fullmatch(name):
        return "not a YYYY-MM-DD date"
    try:
        date.fromisoformat(name)
    except ValueError:
        return "not a calendar date"
    if name < START_DATE:
        return f"before the partitions' start {START_DATE}"
    last = daily_partitions.get_last_partition_key()
    if last is None or name > last:
        return f"the day has not ended yet (last complete day: {last})"
    return None


def day_ranges(days: Iterable[str]) -> str:
    """Consecutive days as one range: `2026-11-09..2026-11-12, 2026-11-14`."""
    ranges: list[list[str]] = []
    for day in sorted(days):
        if ranges and shift_day(ranges[-1][1], 1) == day:
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    return ", ".join(first if first == last else f"{first}..{last}" for first, last in ranges) or "no partition"


def waiting_lines(waiting: dict[dg.AssetKey, list[str]]) -> list[str]:
    """`asset days` per asset of `lineage.held_downstream`, for alerts and check results."""
    return [f"{key.to_user_string()} {day_ranges(days)}" for key, days in waiting.items()]
