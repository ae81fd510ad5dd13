"""The code location: what `dagster dev`, the webserver and the CLI load."""

import dagster as dg

from meridian_assets.defs import resources
from meridian_assets.defs.features.assets import feature_assets
from meridian_assets.defs.ingestion.assets import raw_assets
from meridian_assets.defs.ml.assets import ml_assets
from meridian_assets.defs.ml_table.assets import ml_table_dbt_assets


@dg.definitions
def defs() -> dg.Definitions:
    # In process: one process and one SparkSession per run instead of a process (and a JVM)
    # per step. Production swaps in one pod per step through the run launcher.
    return dg.Definitions(
        assets=[*raw_assets, *feature_assets, ml_table_dbt_assets, *ml_assets],
        resources=resources.from_environment(),
        executor=dg.in_process_executor,
    )
