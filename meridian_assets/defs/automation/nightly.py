"""The nightly safety net, the old DAG's 01:00 UTC schedule: yesterday's partition, only the parts
the landing sensor and automation have not done.

A partition is left alone while a run works on it, an asset whose upstream failed a blocking
check stays held (as under automation), and a drop without its sentinel is waited for (the
03:00 freshness check says when it is late). After a pause only the latest tick runs: Dagster
1.13 catches up no missed ticks of a schedule that is not a partition set's (test_nightly.py
runs the scheduler across six missed nights).
"""

import dagster as dg
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.automation.jobs import daily_job
from meridian_assets.defs.automation.landing import TRIGGER_TAG
from meridian_assets.defs.resources import LandingZone
from meridian_assets.guard import PARTITION_TAG, runnable
from spark_jobs.layout import shift_day

NIGHTLY_CRON = "0 1 * * *"

RAW_SOURCES = {dg.AssetKey(c.asset_name): c.name for c in SOURCES.values()}
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
NOT_FINISHED = [status for status in dg.DagsterRunStatus if status not in FINISHED]


def outstanding(instance: dg.DagsterInstance, graph, day: str, landing: LandingZone) -> tuple[list, list[str]]:
    """The assets of `day` to run now, and why the others missing are not run."""
    missing = [key for key in graph.toposorted_asset_keys
               if graph.get(key).is_materializable and day not in instance.get_materialized_partitions(key)]
    incomplete = {k for k in missing if k in RAW_SOURCES and not landing.drop(RAW_SOURCES[k], day).complete}
    waiting = [f"the {RAW_SOURCES[k]} drop has no _SUCCESS yet" for k in incomplete]
    ready, held = runnable(instance, graph, [k for k in missing if k not in incomplete], day)
    return ready, waiting + [f"{key.to_user_string()}: {why[0]}" for key, why in held.items()]


@dg.schedule(
    job=daily_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 01:00 UTC, yesterday's partition: whatever the sensor and automation have not done.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext, landing: LandingZone):
    day = shift_day(context.scheduled_execution_time.date().isoformat(), -1)
    busy = context.instance.get_run_records(
        dg.RunsFilter(statuses=NOT_FINISHED, tags={PARTITION_TAG: day}), limit=1
    )
    if busy:
        return dg.SkipReason(f"{day}: run {busy[0].dagster_run.run_id} is working on it")
    graph = context.repository_def.asset_graph
    keys, reasons = outstanding(context.instance, graph, day, landing)
    for reason in reasons:
        context.log.info(f"{day}: not requested: {reason}")
    if not keys:
        return dg.SkipReason(f"{day}: nothing outstanding" + (f" ({'; '.join(reasons)})" if reasons else ""))
    return dg.RunRequest(partition_key=day, asset_selection=keys, tags={TRIGGER_TAG: "nightly"})
