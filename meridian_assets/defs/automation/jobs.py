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
    "schedule launches (only what is missing).",
)

# A day's work in the order its blocking checks judge it, one run per stage, each launched when
# the one before succeeded (`meridian launch`, `make run`): a failed check ends the day where it
# stands. In one run of everything, the checks of the steps it stops would be recorded as
# "execution failed" on their day, red on assets that were never built.
stage_jobs = [
    dg.define_asset_job(f"daily_{name}", selection=dg.AssetSelection.groups(group) - OUTSIDE_RUNS,
                        description=f"A day's {what}, then their checks (a stage of the day; see jobs.py).")
    for name, group, what in [
        ("ingest", "raw_ingestion", "vendor drops ingested"),
        ("features", "features", "Spark feature groups"),
        ("ml_table", "ml_ready", "ml_feature_table (dbt)"),
        ("model", "ml", "model trained, gated and deployed"),
    ]
]

backfill_job = dg.define_asset_job(
    "data_backfill",
    selection=dg.AssetSelection.groups("raw_ingestion", "features", "ml_ready") - OUTSIDE_RUNS,
    description="The data assets of a day, for daemon backfills of a date range (one run per day). "
    "No model per past day: automation then trains and deploys for the newest day.",
)
