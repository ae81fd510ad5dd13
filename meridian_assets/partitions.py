"""The one partitioning of the code location, and the named history windows.

History windows are partition mappings, not hidden reads of other days, so lineage and
backfills know about them. Each one ends the day before D: that is the point-in-time rule.
"""

import dagster as dg

START_DATE = "2024-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")

previous_day = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
"""D-1 only: a vehicle's GPS behaviour and the customer snapshot known before D's dispatch."""

same_and_previous_day = dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0)
"""D-1..D: hourly lags (previous hours of weather and traffic) that cross midnight."""

day_and_previous_7_days = dg.TimeWindowPartitionMapping(start_offset=-7, end_offset=0)
"""D-7..D: the day's deliveries, and the route's delays of D-7..D-1 (never D's own)."""

previous_28_days = dg.TimeWindowPartitionMapping(start_offset=-28, end_offset=-1)
"""D-28..D-1: a customer's on-time rate."""

training_window_and_holdout = dg.TimeWindowPartitionMapping(start_offset=-28, end_offset=0)
"""D-28..D: the model trains on D-28..D-1 and is evaluated on D's deliveries."""
