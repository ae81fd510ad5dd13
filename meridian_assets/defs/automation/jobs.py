"""The jobs the schedule, backfills and people launch, built from asset selections.

The freshness checks stay out of them: they judge the clock, not the data a run writes, and
their own sensor evaluates them at the deadline.
"""

import dagster as dg
from meridian_assets.defs.automation.freshness import freshness_checks

OUTSIDE_RUNS = dg.AssetSelection.checks(*freshness_checks)

daily_job = dg.define_asset_job(
    "daily_pipeline",
    selection=dg.AssetSelection.all() - OUTSIDE_RUNS,
    description="Every asset of one day, from the drops to the deployed model: what the nightly "
    "schedule and `make run` launch.",
)

backfill_job = dg.define_asset_job(
    "data_backfill",
    selection=dg.AssetSelection.groups("raw_ingestion", "features", "ml_ready") - OUTSIDE_RUNS,
    description="The data assets of a day, for daemon backfills of a date range (one run per day). "
    "No model per past day: automation then trains and deploys for the newest day.",
)
