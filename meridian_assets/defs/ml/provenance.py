"""Provenance: the deployed model knows the data it learned from, and says when that data changed.

A model records the data version of each ml_feature_table day it was trained and judged on
(`delivery_time_model`, lake.content_version). When one of those days is materialized again
with other data (a re-delivered drop, a re-run of features), the model in production was
trained on data that no longer exists: its check turns WARN (shown on deployed_model, alerted),
and the next candidate trains on the corrected days. The same data written again changes nothing.
"""

import dagster as dg
from meridian_assets.defs.ml import store
from meridian_assets.defs.ml.assets import ML_TABLE, deployed_model
from meridian_assets.defs.resources import sensor_interval
from meridian_assets.lake import CONTENT_VERSIONS, Lake
from meridian_assets.metadata import readable

CHECK = "trained_on_current_data"


def recorded_versions(instance: dg.DagsterInstance, days: list[str]) -> dict[str, str]:
    """Each day's data version as ml_feature_table's latest materialization recorded it (days
    without one, e.g. written before versions were recorded, are absent)."""
    found = {}
    for day in days:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(ML_TABLE), asset_partitions=[day]), limit=1).records
        metadata = records[0].asset_materialization.metadata if records else {}
        if CONTENT_VERSIONS in metadata and day in metadata[CONTENT_VERSIONS].value:
            found[day] = metadata[CONTENT_VERSIONS].value[day]
    return found


def changed_days(inputs: dict[str, str], now: dict[str, str]) -> dict[str, dict[str, str]]:
    """The days whose data is no longer what the model saw: day -> trained on, now."""
    return {day: {"trained_on": seen, "now": now[day]} for day, seen in sorted(inputs.items())
            if day in now and now[day] != seen}


@dg.asset_check(
    asset=deployed_model,
    name=CHECK,
    description="The model in production was trained and judged on the ml_feature_table days as they "
    "are now: a day materialized again with other data since training makes it stale (a WARN, and an "
    "alert: the next candidate trains on the corrected data).",
)
def trained_on_current_data(context: dg.AssetCheckExecutionContext, lake: Lake) -> dg.AssetCheckResult:
    pointer = store.deployed(lake)
    if pointer is None:
        return dg.AssetCheckResult(passed=True, description="Nothing deployed yet.",
                                   metadata={"value": 0, "threshold": 0})
    inputs = pointer.get("inputs", {})
    now = recorded_versions(context.instance, sorted(inputs))
    changed = changed_days(inputs, now)
    unverified = sorted(set(inputs) - set(now))
    if not inputs:
        description = f"{pointer['version']} was deployed before models recorded their data versions."
    elif changed:
        description = f"{pointer['version']} was trained on data that has changed since: ml_feature_table " + ", ".join(
            f"{day} (version {v['trained_on']} -> {v['now']})" for day, v in changed.items())
    else:
        description = f"{pointer['version']}: the {len(inputs)} days it learned from are unchanged" + (
            f" ({len(unverified)} without a recorded version)" if unverified else "")
    return dg.AssetCheckResult(
        passed=not changed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=readable({
            "value": len(changed),  # days changed since training, of which none is allowed
            "threshold": 0,
            "version": pointer["version"],
            "changed_days": dg.MetadataValue.json(changed),
            "unverified_days": dg.MetadataValue.json(unverified),
            "code_version": pointer.get("code_version") or "unknown",
        }),
    )


provenance_job = dg.define_asset_job(
    "model_provenance", selection=dg.AssetSelection.checks(trained_on_current_data),
    description="Checks that the deployed model's training days are still the data in the lake.",
)


@dg.sensor(
    job=provenance_job,
    minimum_interval_seconds=sensor_interval(60),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs trained_on_current_data when a day the deployed model learned from is "
    "materialized again with other data; starts with the materializations after it is on.",
)
def training_data_sensor(context: dg.SensorEvaluationContext, lake: Lake):
    """Cursor: the storage id of the last ml_feature_table materialization looked at."""
    key = dg.AssetKey(ML_TABLE)
    if context.cursor is None:
        newest = context.instance.fetch_materializations(key, limit=1).records
        context.update_cursor(str(newest[0].storage_id if newest else 0))
        return dg.SkipReason("Started: watching the ml_feature_table materializations from now on.")
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, after_storage_id=int(context.cursor)), limit=1000, ascending=True).records
    if not records:
        return dg.SkipReason("No ml_feature_table materialized since the last tick.")
    context.update_cursor(str(records[-1].storage_id))
    pointer = store.deployed(lake) or {}
    inputs = pointer.get("inputs", {})
    changed = changed_days(inputs, {
        r.partition_key: r.asset_materialization.metadata[CONTENT_VERSIONS].value[r.partition_key]
        for r in records if r.partition_key in inputs and CONTENT_VERSIONS in r.asset_materialization.metadata})
    if not changed:
        return dg.SkipReason(f"{len(records)} materializations, none changes a day {pointer.get('version', 'a model')} learned from.")
    return dg.RunRequest(run_key=f"{pointer['version']}/{records[-1].storage_id}",
                         tags={"meridian/changed_days": ",".join(changed)})


provenance_checks = [trained_on_current_data]
