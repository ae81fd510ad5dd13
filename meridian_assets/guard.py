"""The guard that blocks across runs, with the meaning a blocking check has inside a run.

Blocking checks stop downstream steps only inside one run; schedules, sensors, automation and
people start new runs, so training and deployment ask here whether the days they read are fit.
"""

from collections.abc import Iterable, Mapping

import dagster as dg
from spark_jobs.layout import days_between

FORCE_TAG = "meridian/force"  # set to "true" to run on purpose past failed or missing checks
FORCE_BY_TAG = "meridian/force_by"  # who overrides the checks: required with FORCE_TAG
FORCE_REASON_TAG = "meridian/force_reason"  # and why


def forced_by(run: dg.DagsterRun) -> dict[str, str]:
    """Who forced `run` past its checks and why (empty when not forced). A force that does not
    say both is refused: the override is a decision someone answers for."""
    if run.tags.get(FORCE_TAG) != "true":
        return {}
    who, why = run.tags.get(FORCE_BY_TAG, "").strip(), run.tags.get(FORCE_REASON_TAG, "").strip()
    if not who or not why:
        raise dg.Failure(f"{FORCE_TAG}=true needs the run tags {FORCE_BY_TAG} (who) and {FORCE_REASON_TAG} (why)",
                         allow_retries=False)
    return {"forced_by": who, "forced_reason": why}


def location_graph(context: dg.AssetExecutionContext):
    """The whole location's asset graph, checks included; the run's own graph holds only what
    it selected (a run of training alone has no raw checks in it)."""
    graph = context.job_def.asset_layer.asset_graph
    return getattr(graph, "source_asset_graph", graph)


PASSED, WARNED, FAILED = "passed", "warned", "failed"


def _verdict(record) -> str:
    """As inside a run: a failed result blocks only with ERROR severity; a WARN informs."""
    if record.status.value == "SUCCEEDED":
        return PASSED
    evaluation = record.event.dagster_event.event_specific_data
    return WARNED if evaluation.severity == dg.AssetCheckSeverity.WARN else FAILED


def check_outcomes(
    instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, days: set[str]
) -> dict[str, str]:
    """Latest finished result per day: PASSED, WARNED or FAILED; a day without one is absent.

    A range run records one result for all its days, so such a result counts for each day
    of the run's partition range.
    """
    outcomes: dict[str, str] = {}
    days_of_run: dict[str, set[str]] = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=10_000):
        if record.status.value == "PLANNED":
            continue
        if record.partition is not None:
            covered = {record.partition}
        else:
            if record.run_id not in days_of_run:
                days_of_run[record.run_id] = run_days(instance, record.run_id)
            covered = days_of_run[record.run_id]
        for day in covered & days:
            outcomes.setdefault(day, _verdict(record))
    return outcomes


def run_days(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    run = instance.get_run_by_id(run_id)
    tags = run.tags if run else {}
    if "dagster/partition" in tags:
        return {tags["dagster/partition"]}
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return set(days_between(start, end)) if start and end else set()


def upstream_problems(
    instance: dg.DagsterInstance, graph, asset_key: dg.AssetKey, days: set[str],
    in_run: Mapping[dg.AssetKey, set[str]] | None = None,
) -> dict[str, list[str]]:
    """Per day, why the ancestors of `asset_key` in `graph` are not fit to use: an ancestor
    not materialized, or a blocking check that failed with ERROR severity or did not run.
    WARN results never count, as inside a run. Days without a problem are absent.

    `in_run` holds the ancestor days that will run before it in the same run: their blocking
    checks will be judged there, so they are no problem here.
    """
    in_run = in_run or {}
    problems: dict[str, list[str]] = {}
    for key in sorted(_ancestors(graph, asset_key), key=lambda k: k.to_user_string()):
        name = key.to_user_string()
        days_judged = days - in_run.get(key, set())
        materialized = instance.get_materialized_partitions(key) & days_judged
        for day in sorted(days_judged - materialized):
            problems.setdefault(day, []).append(f"{name} is not materialized for {day}")
        for check_key in graph.get_check_keys_for_assets({key}):
            if not graph.get_check_spec(check_key).blocking:
                continue
            outcomes = check_outcomes(instance, check_key, materialized)
            for day in sorted(materialized):
                if day not in outcomes:
                    problems.setdefault(day, []).append(f"{name}.{check_key.name} did not run for {day}")
                elif outcomes[day] == FAILED:
                    problems.setdefault(day, []).append(f"{name}.{check_key.name} failed for {day}")
    # Failed checks first: they are the cause, the assets they held back the consequence.
    return {d: sorted(p, key=lambda line: ("failed for" not in line, line)) for d, p in problems.items()}


def require_upstream_checks(context: dg.AssetExecutionContext, history: Iterable[str] = ()) -> dict:
    """Fail unless the partition's ancestors are fit to use (`upstream_problems`); leave out
    the `history` days that are not, naming why, rather than refusing the partition for them.

    Blocking checks stop downstream steps only inside one run; schedules, sensors and
    automation start new runs, so training and deployment look for themselves. A person
    may override with the run tags meridian/force=true, meridian/force_by and
    meridian/force_reason: every day is then used, and the result records who and why.
    """
    day = context.partition_key
    problems = upstream_problems(context.instance, location_graph(context), context.asset_key, set(history) | {day})
    forced = forced_by(context.run)
    if forced:
        if problems:
            context.log.warning(f"Forced past check problems on {len(problems)} days by {forced['forced_by']} "
                                f"({forced['forced_reason']}): {sum(problems.values(), [])[:5]}")
        return {"forced_past_checks": sum(len(p) for p in problems.values()), "left_out": {}, "forced": forced}
    if day in problems:
        raise dg.Failure(
            description="Blocked: upstream blocking checks did not pass.\n" + "\n".join(problems[day][:30]),
            metadata={"problems": len(problems[day]), "first": problems[day][0]},
            allow_retries=False,
        )
    left_out = dict(sorted(problems.items()))
    for d, why in left_out.items():
        context.log.warning(f"Leaving {d} out: {'; '.join(why)}")
    return {"forced_past_checks": 0, "left_out": left_out, "forced": {}}


def _ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    """The materializable ancestors: the landing drops upstream are written by vendors, never here."""
    seen: set[dg.AssetKey] = set()
    frontier = [key]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in seen and graph.has(parent) and graph.get(parent).is_materializable:
                seen.add(parent)
                frontier.append(parent)
    return seen
