"""Declarative automation: what follows a day's drops without a clock.

Each downstream asset runs when a day it reads was updated, and only while the day's upstream
is fit: what it reads through its partition mappings is materialized, judged and passed its
blocking checks. That is the guard's meaning (`guard.Fitness`, the decision `guard.runnable`
shares with the nightly schedule and `meridian launch`), asked before the run; Dagster's
`all_deps_blocking_checks_passed()` would judge every day of a history window (a bad day would
hold training back for 28 days, where the guard leaves it out) and count WARN results as
failures. Training and deployment follow only for the newest day of the ml table: a corrected
old day retrains today's model, and never deploys a model trained on older data.
"""

import warnings

import dagster as dg

from meridian_assets.dagster_private import SubsetAutomationCondition
from meridian_assets.defs.resources import sensor_interval
from meridian_assets.guard import Fitness
from meridian_assets.lineage import reads

ML_TABLE = dg.AssetKey("ml_feature_table")


def _days(subset) -> set[str]:
    return set(subset.expensively_compute_partition_keys())


def _requested(context: dg.AutomationContext) -> dict[dg.AssetKey, set[str]]:
    """What this tick already requests: it runs in the same run, before its children."""
    return {key: _days(subset) for key, subset in context.request_subsets_by_key.items()
            if isinstance(key, dg.AssetKey)}


class UpstreamFit(SubsetAutomationCondition):
    """What the day needs is fit, counting what this tick requests (it runs first, in the same run)."""

    @property
    def name(self) -> str:
        return "upstream_fit"

    @property
    def description(self) -> str:
        return "What the day reads is materialized, judged and no blocking check of it failed (ERROR)"

    def compute_subset(self, context: dg.AutomationContext):
        fitness = Fitness(context.asset_graph_view.instance, context.asset_graph, pending=_requested(context))
        fit = {day for day in _days(context.candidate_subset) if not fitness.input_problems(context.key, day)}
        return context.candidate_subset.compute_intersection_with_partition_keys(fit)


class WindowSettled(SubsetAutomationCondition):
    """No other day it reads is requested this tick: that day would run in another run, at the
    same time, and this one would read it half rebuilt. It follows once that day is updated."""

    @property
    def name(self) -> str:
        return "window_settled"

    @property
    def description(self) -> str:
        return "No earlier day it reads is requested in this tick"

    def compute_subset(self, context: dg.AutomationContext):
        requested = _requested(context)
        settled = {day for day in _days(context.candidate_subset)
                   if not any((set(days) - {day}) & requested.get(parent, set())
                              for parent, days in reads(context.asset_graph, context.key, day).items())}
        return context.candidate_subset.compute_intersection_with_partition_keys(settled)


class NotMaterialized(SubsetAutomationCondition):
    """Never materialized, as the instance says now. Dagster's `missing()` can read an older state
    than `in_progress()` in the same tick: a day whose run materialized it meanwhile looked
    missing and no longer in progress, and ran again. Asked after `in_progress()`, one of the two
    sees the run's work."""

    @property
    def name(self) -> str:
        return "not_materialized"

    @property
    def description(self) -> str:
        return "The day has never been materialized"

    def compute_subset(self, context: dg.AutomationContext):
        days = _days(context.candidate_subset) - context.asset_graph_view.instance.get_materialized_partitions(context.key)
        return context.candidate_subset.compute_intersection_with_partition_keys(days)


class NewestDay(SubsetAutomationCondition):
    """The newest day the ml table has, or will have after this tick."""

    @property
    def name(self) -> str:
        return "newest_day"

    @property
    def description(self) -> str:
        return f"The newest day of {ML_TABLE.to_user_string()}"

    def compute_subset(self, context: dg.AutomationContext):
        days = context.asset_graph_view.instance.get_materialized_partitions(ML_TABLE)
        days |= _requested(context).get(ML_TABLE, set())
        newest = {day for day in _days(context.candidate_subset) if day >= max(days, default="")}
        return context.candidate_subset.compute_intersection_with_partition_keys(newest)


def _ready(trigger: dg.AutomationCondition) -> dg.AutomationCondition:
    """`trigger`, when nothing it reads is running and its upstream is fit. An And evaluates in
    order: the run checks come before the trigger (see `NotMaterialized`)."""
    return (
        ~dg.AutomationCondition.any_deps_in_progress() & ~dg.AutomationCondition.in_progress() & trigger
        & UpstreamFit() & WindowSettled()
    )


def follows_inputs() -> dg.AutomationCondition:
    """Requested once after a day it reads was updated (a window's days included: a re-delivered
    D-1 updates D's features), or while it is missing and its last run did not fail (some
    assets read only earlier days, so the day's own drops update none of their inputs); only
    when nothing it reads is running and its upstream is fit. A failed run is not retried
    here: retries are the step's retry policy, then the nightly schedule's."""
    missing = NotMaterialized() & ~dg.AutomationCondition.execution_failed()
    updated = dg.AutomationCondition.any_deps_updated().since_last_handled()
    return _ready(missing | updated).with_label("follows_inputs")


def follows_newest_day() -> dg.AutomationCondition:
    """Training and deployment: after an update, for the newest day only. Not while missing:
    with too little history training materializes nothing, and would be asked again each tick."""
    updated = dg.AutomationCondition.any_deps_updated().since_last_handled()
    return (_ready(updated) & NewestDay()).with_label("follows_newest_day")


CONDITIONS = {"features": follows_inputs, "ml_ready": follows_inputs, "ml": follows_newest_day}


# Evaluated in the code location's process: the conditions above run Python of this package.
# (`use_user_code_server` is Beta in Dagster 1.13: said once here, not on every command's stderr.)
# One run per day, never a backfill: what a tick requests for a day then runs in one run, each
# asset after the blocking checks of what it reads (`_requested` counts on it). A backfill of a
# multi-day tick started training in a run of its own as soon as the day's table was written,
# before the table's checks had judged it, and the guard refused it.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    automation_sensor = dg.AutomationConditionSensorDefinition(
        "downstream_automation",
        target=dg.AssetSelection.groups(*CONDITIONS),
        use_user_code_server=True,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=sensor_interval(30),
        emit_backfills=False,
    )


def with_automation(assets: list) -> list:
    """Each downstream asset with its group's condition; raw assets follow the landing sensor."""
    def automate(spec: dg.AssetSpec) -> dg.AssetSpec:
        condition = CONDITIONS.get(spec.group_name)
        return spec.replace_attributes(automation_condition=condition()) if condition else spec

    return dg.map_asset_specs(automate, assets)
