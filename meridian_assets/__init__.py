"""Meridian Freight's ML feature platform: a Dagster code location."""

import warnings

import dagster as dg

# Features used on purpose, filtered by name so that any other beta or preview notice still shows:
# - BackfillPolicy.single_run() (beta) lets one CLI run backfill a date range in one Spark job;
# - partitioned check specs (preview) record each day's check result against its partition,
#   which the checks tab and the training guard read;
# - code references (beta) link each asset in the UI to its source.
for category, message in [
    (dg.BetaWarning, "Parameter `backfill_policy` of function `asset`"),
    (dg.PreviewWarning, "Specifying a partitions_def on an AssetCheckSpec"),
    (dg.BetaWarning, "Function `with_source_code_references`"),
    (dg.BetaWarning, "Function `link_code_references_to_git`"),
    (dg.BetaWarning, "Class `(CodeReferencesMetadataValue|LocalFileCodeReference|UrlCodeReference|AnchorBasedFilePathMapping)`"),
]:
    warnings.filterwarnings("ignore", message=message, category=category)
