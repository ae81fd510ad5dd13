"""Meridian Freight's ML feature platform: a Dagster code location."""

import warnings

import dagster as dg

# BackfillPolicy.single_run() is what lets one CLI run backfill a date range; we use it on
# purpose, so its beta notice only adds noise to every command.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
