"""The landing sensor: a new or re-delivered drop (its _SUCCESS) starts that day's ingestion.

The old DAG's S3KeySensor, without the poke loop holding a worker: each tick lists the
sentinels and compares them with the cursor, which remembers the sentinel version ingested
per source and day. A re-delivery writes a newer sentinel and triggers again; nothing triggers
twice, across daemon restarts (the cursor is stored with the tick, and each request's run key
names the exact sentinels).
"""

import hashlib
import json

import dagster as dg
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.resources import LandingZone, Sentinel, sensor_interval
from meridian_assets.partitions import not_a_partition

TRIGGER_TAG = "meridian/trigger"


def ingested_after(instance: dg.DagsterInstance, source: str, day: str, sentinel: Sentinel) -> bool:
    """The day's raw partition was written after this sentinel: the delivery is in already (the
    first tick over a landing zone with history, or a lost cursor)."""
    key = dg.AssetKey(SOURCES[source].asset_name)
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
    ).records
    return bool(records) and records[0].timestamp >= sentinel.written


def new_deliveries(
    landing: LandingZone, instance: dg.DagsterInstance, seen: dict[str, dict[str, str]]
) -> tuple[dict, dict, list[str]]:
    """Per day, the sources whose sentinel is new or newer than in `seen`; the updated `seen`;
    and the folders that are not partitions (with why)."""
    days: dict[str, dict[str, str]] = {}
    skipped = []
    updated = {source: dict(versions) for source, versions in seen.items()}
    for source in SOURCES:
        known = seen.get(source, {})
        for folder, sentinel in sorted(landing.sentinels(source).items()):
            problem = not_a_partition(folder)
            if problem:
                skipped.append(f"{source}/{folder}: {problem}")
                continue
            if known.get(folder) == sentinel.version:
                continue
            if folder in known or not ingested_after(instance, source, folder, sentinel):
                days.setdefault(folder, {})[source] = sentinel.version
            updated.setdefault(source, {})[folder] = sentinel.version
    return days, updated, skipped


@dg.sensor(
    description="Requests the ingestion of a day's drops once their _SUCCESS sentinel is written, "
    "again when a vendor re-delivers the day (a newer sentinel), never twice for one delivery.",
    minimum_interval_seconds=sensor_interval(30),
    default_status=dg.DefaultSensorStatus.RUNNING,
    asset_selection=dg.AssetSelection.groups("raw_ingestion"),
)
def landing_sensor(context: dg.SensorEvaluationContext, landing: LandingZone) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {"seen": {}, "skipped": []}
    days, seen, skipped = new_deliveries(landing, context.instance, cursor["seen"])
    for line in sorted(set(skipped) - set(cursor["skipped"])):
        context.log.warning(f"skipped landing folder {line}")
    requests = []
    for day, versions in sorted(days.items()):
        delivery = hashlib.sha256(json.dumps(versions, sort_keys=True).encode()).hexdigest()[:16]
        requests.append(dg.RunRequest(
            run_key=f"{day}:{delivery}",
            partition_key=day,
            asset_selection=[dg.AssetKey(SOURCES[source].asset_name) for source in sorted(versions)],
            tags={TRIGGER_TAG: "landing"},
        ))
        context.log.info(f"{day}: ingesting {', '.join(sorted(versions))}")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps({"seen": seen, "skipped": sorted(skipped)}))
