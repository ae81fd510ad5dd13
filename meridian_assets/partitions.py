"""The one partitioning of the code location, and the history windows as partition mappings.

History windows are partition mappings, not hidden reads of other days, so lineage and
backfills know about them. Each window is declared once, in `spark_jobs/layout.py`, where the
jobs and checks read their days from; here it becomes the mapping Dagster sees. Each ends the
day before D, or at D for inputs of the day itself: that is the point-in-time rule.
"""

import re
from datetime import date

import dagster as dg
from spark_jobs.layout import SAME_DAY, TRAINING_WINDOW_AND_HOLDOUT, Window

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
