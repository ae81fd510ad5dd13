"""The one partitioning of the code location, and the history windows as partition mappings.

History windows are partition mappings, not hidden reads of other days, so lineage and
backfills know about them. Each window is declared once, in `spark_jobs/layout.py`, where the
jobs and checks read their days from; here it becomes the mapping Dagster sees. Each ends the
day before D, or at D for inputs of the day itself: that is the point-in-time rule.
"""

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
