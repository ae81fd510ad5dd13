"""The code location: what `dagster dev`, the webserver and the CLI load."""

from pathlib import Path

import dagster as dg

from meridian_assets.defs import resources
from meridian_assets.defs.automation.alerts import alert_sensors
from meridian_assets.defs.automation.conditions import automation_sensor, with_automation
from meridian_assets.defs.automation.freshness import freshness_checks, freshness_sensor
from meridian_assets.defs.automation.landing import landing_sensor
from meridian_assets.defs.automation.jobs import backfill_job, daily_job, stage_jobs
from meridian_assets.defs.automation.nightly import nightly_schedule
from meridian_assets.defs.features.assets import feature_assets
from meridian_assets.defs.features.checks import feature_checks
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.ingestion.assets import landing_drop, raw_assets
from meridian_assets.defs.ingestion.checks import raw_checks
from meridian_assets.defs.ml.assets import ml_assets, ml_checks
from meridian_assets.defs.ml.provenance import provenance_checks, provenance_job, training_data_sensor
from meridian_assets.defs.ml_table.assets import ml_table_dbt_assets
from meridian_assets.defs.ml_table.checks import ml_table_checks


ASSETS = [*raw_assets, *feature_assets, ml_table_dbt_assets, *ml_assets]
CHECKS = [*raw_checks, *feature_checks, *ml_table_checks, *ml_checks, *provenance_checks]


def with_code_references(assets: list) -> list:
    """Each asset links to its source file; to the repository's web view when one is configured."""
    assets = dg.with_source_code_references(assets)
    git = resources.git_remote()
    if git is None:
        return assets
    return dg.link_code_references_to_git(
        assets, git_url=git[0], git_branch=git[1],
        file_path_mapping=dg.AnchorBasedFilePathMapping(
            local_file_anchor=Path(__file__).parent, file_anchor_path_in_repository="meridian_assets/"),
    )


@dg.definitions
def defs() -> dg.Definitions:
    # In process by default: one process and one SparkSession per run instead of a process (and
    # a JVM) per step (docs/ARCHITECTURE.md). On Kubernetes (MERIDIAN_EXECUTOR=k8s) each run gets
    # its own pod and each step a Job of its own, so a Spark step gets the pod its tag asks for.
    return dg.Definitions(
        assets=[*(landing_drop(c) for c in SOURCES.values()), *with_automation(with_code_references(ASSETS))],
        asset_checks=[*CHECKS, *freshness_checks],
        resources=resources.from_environment(),
        jobs=[daily_job, *stage_jobs, backfill_job, provenance_job],
        schedules=[nightly_schedule],
        sensors=[landing_sensor, automation_sensor, freshness_sensor, training_data_sensor, *alert_sensors],
        executor=resources.executor(),
    )
