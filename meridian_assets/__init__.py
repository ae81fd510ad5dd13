"""Meridian Freight's ML feature platform: a Dagster code location."""

import warnings

import dagster as dg

# Used on purpose, so their notices only add noise to every command: BackfillPolicy.single_run()
# (beta) lets one CLI run backfill a date range; partitioned check specs (preview) record each
# day's check result against its partition, which the checks tab and the training guard read.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
