"""Alerts: one Slack-compatible message for each thing a person must act on or know, sent once.

The sensor reads each run as it finishes and tells of: a failed ERROR check (one message per
asset partition and run), a missed freshness deadline, a model held back by the evaluation
gate (a notice), a deployed model whose training data changed, a run a person forced past the checks (who and why), and a run that failed
for another reason (a step's error, or run monitoring's maximum runtime). A run that failed only because a blocking check failed is told once, by its
check. WARN results never alert. Each message names the partition, links the run and lists
the downstream days that now wait.
"""

from __future__ import annotations

import json
import math
import os
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPException
from zoneinfo import ZoneInfo

import dagster as dg

from meridian_assets.defs.resources import sensor_interval
from meridian_assets.guard import FINISHED_CHECK, FORCE_BY_TAG, FORCE_REASON_TAG, FORCE_TAG, run_days
from meridian_assets.lineage import held_downstream
from meridian_assets.metadata import ui_url
from meridian_assets.partitions import day_ranges, waiting_lines

WEBHOOK_ENV = "MERIDIAN_ALERT_WEBHOOK"  # unset: alerts go to the sensor's log only
WEBHOOK_TIMEOUT_SECONDS = 10
RUNS_PER_TICK = 50

GATE = dg.AssetCheckKey(dg.AssetKey("delivery_time_model"), "evaluation_gate")
STALE = dg.AssetCheckKey(dg.AssetKey("deployed_model"), "trained_on_current_data")
NOTICES = {GATE: "held", STALE: "stale"}  # WARN checks people hear of
# Written by Dagster's time-partition freshness checks (freshness.py).
FRESHNESS_PARAMS = "dagster/freshness_params"
FRESHNESS_DEADLINE = "dagster/latest_cron_tick_timestamp"
# The error of a step that failed only because a blocking check failed: its check tells.
CHECK_FAILED = "DagsterAssetCheckFailedError"
STEP_ERROR_WRAPPER = "DagsterExecutionStepExecutionError"  # its cause is the user's exception
FINISHED = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)
WILL_RETRY_TAG = "dagster/will_retry"  # set on a failed run the daemon retries
STOPPED = "Not built by this run, though fit (automation or the nightly schedule builds them)"
READ = {dg.DagsterEventType.ASSET_CHECK_EVALUATION, dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.RUN_CANCELING, dg.DagsterEventType.RUN_FAILURE}


@dataclass(frozen=True)
class Alert:
    id: str  # one per event: the cursor remembers the ones delivered
    headline: str
    run_url: str
    details: list[str] = field(default_factory=list)
    waiting: dict[dg.AssetKey, list[str]] = field(default_factory=dict)
    # Not built by the run because a step before them failed, though they read no failed day.
    stopped: dict[dg.AssetKey, list[str]] = field(default_factory=dict)

    @property
    def waiting_lines(self) -> list[str]:
        return waiting_lines(self.waiting)

    @property
    def stopped_line(self) -> list[str]:
        return [f"{STOPPED}: {'; '.join(waiting_lines(self.stopped))}"] if self.stopped else []

    @property
    def text(self) -> str:
        waiting = "Waiting downstream: " + ("; ".join(self.waiting_lines) or "nothing")
        return "\n".join([self.headline, *self.details, waiting, *self.stopped_line, f"Run: {self.run_url}"])

    def payload(self) -> dict:
        """Slack's incoming-webhook form: `text` for notifications, `blocks` for the message."""
        waiting = "\n".join(f"• {line}" for line in self.waiting_lines) or "nothing"
        return {
            "text": self.text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join([f"*{self.headline}*", *self.details])}},
                {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join([f"*Waiting downstream*\n{waiting}",
                                                                                  *self.stopped_line])}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{self.run_url}|Open the run>"}]},
            ],
        }


def _number(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _head(text: str, lines: int = 2, limit: int = 300) -> str:
    """The first lines of an error: what went wrong, without the stack."""
    head = " ".join(line.strip() for line in text.strip().splitlines()[:lines])
    return head if len(head) <= limit else head[: limit - 1] + "…"


def _metadata(evaluation) -> dict:
    return {name: value.value for name, value in evaluation.metadata.items()}


def _told_before(instance, check_key: dg.AssetCheckKey, run_id: str, deadline: float) -> bool:
    """Whether the evaluation of `check_key` before this run's also failed for this deadline:
    any run of the asset re-runs its freshness check, and a late day is told once."""
    history = [record for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=200)
               if record.status.value in FINISHED_CHECK]
    runs = [record.run_id for record in history]
    earlier = history[runs.index(run_id) + 1:] if run_id in runs else []
    return bool(earlier) and earlier[0].status.value == "FAILED" and _metadata(
        earlier[0].event.dagster_event.asset_check_evaluation_data).get(FRESHNESS_DEADLINE) == deadline


def _late(graph, evaluation) -> tuple[str, str]:
    """The day a failed freshness check found missing, and its deadline in words."""
    meta = _metadata(evaluation)
    tz = meta[FRESHNESS_PARAMS]["timezone"]
    deadline = datetime.fromtimestamp(meta[FRESHNESS_DEADLINE], ZoneInfo(tz))
    day = graph.get(evaluation.asset_key).partitions_def.get_partition_keys(current_time=deadline)[-1]
    return day, f"{deadline:%Y-%m-%d %H:%M} {tz}"


def _check_alert(graph, run_id: str, url: str, kind: str, days: set[str], failed: list,
                 stopped: dict[dg.AssetKey, set[str]]) -> Alert:
    asset = failed[0].asset_key
    name, label = asset.to_user_string(), day_ranges(days)
    if kind == "late":
        headline, details = f":hourglass: Late: {name} {label} was not materialized by {_late(graph, failed[0])[1]}", []
    elif kind == "held":
        meta = _metadata(failed[0])
        versus = "" if math.isnan(meta["deployed_mae"]) else f" vs {meta['deployed_mae']:.2f}"
        headline = (f":information_source: Model held for {label}: candidate {meta['version']} held, deployed model "
                    f"{meta['deployed_version']} stays, MAE {meta['value']:.2f}{versus} (limit {meta['threshold']:.2f})")
        details = [failed[0].description] if failed[0].description else []
    elif kind == "stale":
        meta = _metadata(failed[0])
        headline = (f":warning: Model stale: deployed model {meta['version']} was trained on ml_feature_table days "
                    f"that changed since: {day_ranges(set(meta['changed_days']))}")
        details = [failed[0].description]
    else:
        headline = f":x: Check failed: {name} {label}"
        details = []
        for evaluation in failed:
            meta = _metadata(evaluation)
            shown = (f"{_number(meta['value'])} vs threshold {_number(meta['threshold'])}"
                     if {"value", "threshold"} <= meta.keys() else evaluation.description or "failed")
            details.append(f"{evaluation.check_name}: {shown}")
    # A held candidate leaves nothing waiting: deployed_model records that the deployed model stays.
    if kind in NOTICES.values():
        return Alert(f"{run_id}/{kind}/{name}/{label}", headline, url, details)
    waiting = held_downstream(graph, [asset], days)
    # Inside a run Dagster stops every step after a failed blocking check, whatever days they read.
    fit = {key: sorted(d - set(waiting.get(key, []))) for key, d in stopped.items()}
    return Alert(f"{run_id}/{kind}/{name}/{label}", headline, url, details, waiting,
                 {key: fit[key] for key in graph.toposorted_asset_keys if fit.get(key)})


def _check_alerts(instance, graph, run_id: str, url: str, run_days: set[str], evaluations: list,
                  stopped: dict[dg.AssetKey, set[str]]) -> list[Alert]:
    """One alert per asset partition with failed ERROR checks (late or failed), and a notice per
candidate the gate held."""
    groups: dict[tuple[str, dg.AssetKey, frozenset[str]], list] = {}
    for evaluation in evaluations:
        check_key = dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name)
        # WARN informs in the UI and alerts no one, but for the model's: a gate's decision, a stale model.
        if evaluation.passed or (evaluation.severity != dg.AssetCheckSeverity.ERROR and check_key not in NOTICES):
            continue
        if FRESHNESS_PARAMS in evaluation.metadata:
            if _told_before(instance, check_key, run_id, _metadata(evaluation)[FRESHNESS_DEADLINE]):
                continue
            kind, days = "late", {_late(graph, evaluation)[0]}
        else:
            # A range run records one result for all its days.
            kind, days = NOTICES.get(check_key, "check"), {evaluation.partition} if evaluation.partition else run_days
        groups.setdefault((kind, evaluation.asset_key, frozenset(days)), []).append(evaluation)
    return [_check_alert(graph, run_id, url, kind, set(days), failed, stopped)
            for (kind, _, days), failed in groups.items()]


def _plan_outputs(instance, run) -> list[tuple[str, dg.AssetKey | dg.AssetCheckKey]]:
    """(step, asset or check) of each output of the run's plan."""
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id) if run.execution_plan_snapshot_id else None
    return [(step.key, output.entity_key) for step in (plan.steps if plan else []) for output in step.outputs
            if output.entity_key is not None]


def _planned_assets(instance, run, steps: set[str] | None) -> set[dg.AssetKey]:
    """The assets of the run's plan (of `steps` only, when given); a check stands for its asset."""
    return {key if isinstance(key, dg.AssetKey) else key.asset_key
            for step, key in _plan_outputs(instance, run) if steps is None or step in steps}


def _not_started(instance, run, days: set[str]) -> dict[dg.AssetKey, set[str]]:
    """The assets of the run's plan whose steps never started, with the run's days."""
    started = {e.dagster_event.step_key for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)}
    return {key: set(days) for step, key in _plan_outputs(instance, run)
            if step not in started and isinstance(key, dg.AssetKey)}


def _error_head(error) -> str:
    """What went wrong in a step: the user's exception (under Dagster's wrapper), without a stack."""
    while error.cause and error.cls_name == STEP_ERROR_WRAPPER:
        error = error.cause
    qualified, _, said = error.message.partition(": ")
    return _head(f"{error.cls_name}: {said}" if qualified.endswith(error.cls_name) else error.message)


def _run_failure_alert(instance, graph, run, url: str, run_days: set[str], events: list) -> Alert | None:
    """The failure of a run unless only blocking checks failed it: their alerts tell."""
    steps = [e for e in events if e.is_step_failure]
    failed_steps = [e for e in steps if (e.step_failure_data.error and e.step_failure_data.error.cls_name) != CHECK_FAILED]
    if run.status != dg.DagsterRunStatus.FAILURE or (steps and not failed_steps):
        return None
    details = [f"step {e.step_key}: " + (_error_head(e.step_failure_data.error) if e.step_failure_data.error
                                         else _head(e.message)) for e in failed_steps]
    # Why the run stopped: a termination (run monitoring's maximum runtime) and, without a failed step, the failure.
    details += [_head(e.message) for e in events
                if e.event_type == dg.DagsterEventType.RUN_CANCELING or (not steps and e.is_run_failure)]
    assets = _planned_assets(instance, run, {e.step_key for e in failed_steps} if failed_steps else None)
    subject = ", ".join(sorted(key.to_user_string() for key in assets)) or run.job_name
    return Alert(f"{run.run_id}/run-failure", f":rotating_light: Run failed: {subject} {day_ranges(run_days)}",
                 url, list(dict.fromkeys(details)), held_downstream(graph, assets, run_days))


def _forced_alert(instance, run, url: str, run_days: set[str]) -> Alert | None:
    """Checks overridden on purpose: people hear who did it and why, whatever the run's outcome."""
    if run.tags.get(FORCE_TAG) != "true":
        return None
    subject = ", ".join(sorted(k.to_user_string() for k in _planned_assets(instance, run, None))) or run.job_name
    who, why = run.tags.get(FORCE_BY_TAG) or "nobody named", run.tags.get(FORCE_REASON_TAG) or "no reason given"
    return Alert(f"{run.run_id}/forced", f":warning: Checks overridden by {who}: {subject} {day_ranges(run_days)}",
                 url, [f"why: {why}"])


def run_alerts(instance: dg.DagsterInstance, graph, run_id: str, ui_url: str) -> list[Alert]:
    """What a finished run has to tell. A failed run the daemon will retry tells nothing:
    its last attempt speaks for all."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.tags.get(WILL_RETRY_TAG) == "true":
        return []
    events = [entry.dagster_event for entry in instance.all_logs(run_id, of_type=READ)]
    days = run_days(instance, run_id)
    url = f"{ui_url}/runs/{run_id}"
    evaluations = [e.asset_check_evaluation_data for e in events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    alerts = _check_alerts(instance, graph, run_id, url, days, evaluations, _not_started(instance, run, days))
    failure = _run_failure_alert(instance, graph, run, url, days, events)
    forced = _forced_alert(instance, run, url, days)
    return [a for a in (forced, *alerts, failure) if a]


def deliver(alert: Alert, log) -> None:
    """POST the alert to the webhook read now from the environment; unset, log it instead.
    Raises OSError (refused, timeout, HTTP error status) or HTTPException when not delivered."""
    url = os.environ.get(WEBHOOK_ENV)
    if not url:
        log.info(f"{WEBHOOK_ENV} is not set; alert:\n{alert.text}")
        return
    request = urllib.request.Request(url, data=json.dumps(alert.payload()).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        response.read()


def _finished_runs(instance: dg.DagsterInstance, after: int) -> list:
    """Run successes and failures stored after `after`, in storage order. When one kind has
    more than a page, all are cut at its page's end, so none is skipped."""
    records, page_ends = [], []
    for event_type in FINISHED:
        page = instance.fetch_run_status_changes(
            dg.RunStatusChangeRecordsFilter(event_type, after_storage_id=after), limit=RUNS_PER_TICK, ascending=True)
        records += page.records
        if page.has_more:
            page_ends.append(page.records[-1].storage_id)
    end = min(page_ends, default=None)
    return sorted((r for r in records if end is None or r.storage_id <= end), key=lambda r: r.storage_id)


def _last_finished(instance: dg.DagsterInstance) -> int:
    pages = [instance.fetch_run_status_changes(event_type, limit=1).records for event_type in FINISHED]
    return max((page[0].storage_id for page in pages if page), default=0)


@dg.sensor(
    minimum_interval_seconds=sensor_interval(20),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=f"Posts an alert per failed ERROR check, late partition, held or stale model and failed run to "
    f"${WEBHOOK_ENV} (Slack-compatible JSON), each once; starts with the runs that finish after it is on.",
)
def alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Cursor: the storage id of the last run success or failure whose alerts were all delivered,
    and the ids of the next run's alerts already delivered. An undelivered alert stops the tick
    there; the next tick retries it and never resends the others. The first tick only sets the
    cursor to the newest run's end: a new sensor does not replay history."""
    instance = context.instance
    if context.cursor is None:
        context.update_cursor(json.dumps({"after": _last_finished(instance), "sent": []}))
        return dg.SkipReason("Started: alerting on runs that finish from now on.")
    state = json.loads(context.cursor)
    graph = context.repository_def.asset_graph
    posted = 0
    for record in _finished_runs(instance, state["after"]):
        for alert in run_alerts(instance, graph, record.run_id, ui_url()):
            if alert.id in state["sent"]:
                continue
            try:
                deliver(alert, context.log)
            except (OSError, HTTPException) as error:
                context.log.error(f"Alert {alert.id} not delivered, retrying next tick: {error}")
                context.update_cursor(json.dumps(state))
                return dg.SkipReason(f"{posted} alerts posted; the webhook failed: {error}")
            state["sent"].append(alert.id)
            posted += 1
        state = {"after": record.storage_id, "sent": []}
    context.update_cursor(json.dumps(state))
    return dg.SkipReason(f"{posted} alerts posted")


alert_sensors = [alert_sensor]
