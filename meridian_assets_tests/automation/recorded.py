"""What runs record, without running them: materializations and check results, so the decisions
of sensors, schedules and conditions are tested on a real instance without Spark."""

from __future__ import annotations

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.utils import make_new_run_id
from meridian_assets.dagster_private import evaluation_of
from meridian_assets.quality import latest_materialization

RAW = "raw_gps_telemetry", "raw_deliveries", "raw_weather", "raw_traffic", "raw_customers"
FEATURES = "gps_features", "route_features", "weather_features", "traffic_features", "customer_features"
ML = "ml_feature_table", "delivery_time_model", "deployed_model"
GPS_CHECK = "fleet_reporting"  # a blocking check of raw_gps_telemetry


def record(instance: dg.DagsterInstance, graph, names, day: str,
           failed: dict[str, dg.AssetCheckSeverity] | None = None) -> None:
    """What a run of `names` for `day` records: materializations, then every check's result
    (passed, unless named in `failed` with its severity)."""
    failed = failed or {}
    run_id = make_new_run_id()  # a check's result is stored once per run and partition

    def report(event_type: DagsterEventType, data) -> None:
        event = DagsterEvent(event_type_value=event_type.value, event_specific_data=data, job_name="__ASSET_JOB")
        instance.report_dagster_event(event, run_id=run_id)

    for name in names:
        key = dg.AssetKey(name)
        report(DagsterEventType.ASSET_MATERIALIZATION,
               StepMaterializationData(dg.AssetMaterialization(asset_key=key, partition=day)))
        # Each result judges the materialization just recorded, as a run's check does.
        target = latest_materialization(instance, key, day)
        for check in graph.get_check_keys_for_assets({key}):
            result = dg.AssetCheckResult(passed=check.name not in failed,
                                         severity=failed.get(check.name, dg.AssetCheckSeverity.ERROR))
            report(DagsterEventType.ASSET_CHECK_EVALUATION,
                   evaluation_of(result, check, day, graph.get_check_spec(check).blocking, target))
