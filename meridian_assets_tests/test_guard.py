"""The cross-run guard means what a blocking check means inside a run.

Inside a run, only a blocking check that fails with ERROR severity stops what depends on its
asset. Training and deployment start in other runs, so they ask the guard: for the same check
results it must block exactly when the run would have.
"""

from contextlib import contextmanager

import pytest

import dagster as dg
from meridian_assets.guard import (
    FAILED, FORCE_BY_TAG, FORCE_REASON_TAG, FORCE_TAG, PASSED, WARNED, Fitness, judgements,
    require_fit_inputs, runnable,
)
from meridian_assets.lineage import LEAVES_OUT_UNFIT
from meridian_assets.partitions import daily_partitions

DAY = "2026-11-01"
UPSTREAM, DOWNSTREAM, GUARDED = dg.AssetKey("upstream"), dg.AssetKey("downstream"), dg.AssetKey("guarded")


def toy_location(passed: bool, severity: dg.AssetCheckSeverity, blocking: bool):
    """upstream (with one check) -> downstream, and `guarded`, which asks the guard first."""

    @dg.asset(partitions_def=daily_partitions)
    def upstream() -> None:
        pass

    @dg.asset_check(asset=upstream, blocking=blocking, partitions_def=daily_partitions)
    def rule() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=passed, severity=severity)

    @dg.asset(partitions_def=daily_partitions, deps=[upstream])
    def downstream() -> None:
        pass

    @dg.asset(partitions_def=daily_partitions, deps=[upstream])
    def guarded(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=require_fit_inputs(context)["forced"])

    return [upstream, downstream, guarded], [rule]


@pytest.mark.parametrize("blocking", [True, False])
@pytest.mark.parametrize(("passed", "severity", "verdict"), [
    (True, dg.AssetCheckSeverity.ERROR, PASSED),
    (False, dg.AssetCheckSeverity.WARN, WARNED),
    (False, dg.AssetCheckSeverity.ERROR, FAILED),
])
def test_cross_run_guard_blocks_exactly_when_the_run_does(passed, severity, verdict, blocking):
    assets, checks = toy_location(passed, severity, blocking)
    with dg.instance_for_test() as instance:
        dg.materialize([*assets, *checks], selection=[UPSTREAM, DOWNSTREAM], partition_key=DAY,
                       instance=instance, raise_on_error=False)
        in_run = DAY in instance.get_materialized_partitions(DOWNSTREAM)
        assert {d: j.verdict for d, j in judgements(instance, dg.AssetCheckKey(UPSTREAM, "rule")).items()} == {DAY: verdict}
        # Later, a run of its own (a schedule, a sensor), as training and deployment are.
        later = dg.materialize([*assets, *checks], selection=[GUARDED], partition_key=DAY, instance=instance,
                               raise_on_error=False)
        cross_run = DAY in instance.get_materialized_partitions(GUARDED)
    assert in_run == cross_run == (verdict != FAILED or not blocking)
    if not cross_run:
        (failure,) = later.get_step_failure_events()
        assert f"upstream.rule failed for {DAY}" in failure.event_specific_data.error.message


def test_a_check_that_did_not_run_or_a_missing_upstream_blocks():
    assets, checks = toy_location(True, dg.AssetCheckSeverity.ERROR, True)
    graph = dg.Definitions(assets=assets, asset_checks=checks).resolve_asset_graph()
    with dg.instance_for_test() as instance:
        assert Fitness(instance, graph).input_problems(GUARDED, DAY) == [
            f"guarded {DAY}: no drop ingested on or before it (first day: none yet)"]
        dg.materialize([*assets, *checks], selection=[UPSTREAM], partition_key="2026-10-31", instance=instance)
        assert Fitness(instance, graph).input_problems(GUARDED, DAY) == [f"upstream is not materialized for {DAY}"]
        dg.materialize(assets[:1], partition_key=DAY, instance=instance)  # the asset without its check
        assert Fitness(instance, graph).input_problems(GUARDED, DAY) == [f"upstream.rule did not run for {DAY}"]


def test_a_person_forces_past_a_failed_check_only_saying_who_and_why():
    assets, checks = toy_location(False, dg.AssetCheckSeverity.ERROR, True)
    with dg.instance_for_test() as instance:
        dg.materialize([*assets, *checks], selection=[UPSTREAM], partition_key=DAY, instance=instance,
                       raise_on_error=False)

        def force(**tags):
            return dg.materialize([*assets, *checks], selection=[GUARDED], partition_key=DAY, instance=instance,
                                  tags={FORCE_TAG: "true", **tags}, raise_on_error=False)

        (failure,) = force().get_step_failure_events()
        assert f"needs the run tags {FORCE_BY_TAG} (who) and {FORCE_REASON_TAG} (why)" in \
            failure.event_specific_data.error.message
        forced = force(**{FORCE_BY_TAG: "ana.lopez", FORCE_REASON_TAG: "vendor re-sent the day"})
        assert forced.success
        (materialization,) = forced.asset_materializations_for_node("guarded")
        assert {k: v.value for k, v in materialization.metadata.items()} == {
            "forced_by": "ana.lopez", "forced_reason": "vendor re-sent the day"}


def window_location(verdicts: dict[str, bool]):
    """upstream (a blocking ERROR check, passing on the days of `verdicts` marked True); `next_day`
    reads upstream D-1 only; `trainer` reads D-2..D and leaves out the unfit days of it."""

    @dg.asset(partitions_def=daily_partitions)
    def upstream() -> None:
        pass

    @dg.asset_check(asset=upstream, blocking=True, partitions_def=daily_partitions)
    def rule(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=verdicts[context.partition_key])

    @dg.asset(partitions_def=daily_partitions, deps=[dg.AssetDep(
        upstream, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1))])
    def next_day() -> None:
        pass

    @dg.asset(partitions_def=daily_partitions, metadata={LEAVES_OUT_UNFIT: "upstream"}, deps=[dg.AssetDep(
        upstream, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-2, end_offset=0))])
    def trainer(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"left_out": sorted(require_fit_inputs(context)["left_out"])})

    @dg.asset(partitions_def=daily_partitions, deps=[dg.AssetDep(
        upstream, partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0))])
    def pair() -> None:
        """Reads D-1 and D, and needs both."""

    return dg.Definitions(assets=[upstream, next_day, trainer, pair], asset_checks=[rule])


DAYS = ["2026-10-30", "2026-10-31", DAY]


@contextmanager
def window_with_a_failed_middle_day():
    """The window location with upstream materialized for DAYS, its rule failed on 10-31."""
    definitions = window_location({"2026-10-30": True, "2026-10-31": False, DAY: True})
    with dg.instance_for_test() as instance:
        for day in DAYS:
            dg.materialize(definitions.assets + definitions.asset_checks, selection=[UPSTREAM], partition_key=day,
                           instance=instance, raise_on_error=False)
        yield definitions, definitions.resolve_asset_graph(), instance


def test_a_day_is_judged_by_the_days_it_reads_not_its_own():
    with window_with_a_failed_middle_day() as (definitions, graph, instance):
        fitness = Fitness(instance, graph)
        # next_day of DAY reads upstream of 10-31, which failed; of 10-31 it reads 10-30, which passed.
        assert fitness.input_problems(dg.AssetKey("next_day"), DAY) == ["upstream.rule failed for 2026-10-31"]
        assert fitness.input_problems(dg.AssetKey("next_day"), "2026-10-31") == []
        # The trainer needs its own day and leaves the failed day of its window out, naming why.
        assert fitness.input_problems(dg.AssetKey("trainer"), DAY) == []
        assert fitness.left_out(dg.AssetKey("trainer"), DAY) == {"2026-10-31": ["upstream.rule failed for 2026-10-31"]}
        trained = dg.materialize(definitions.assets + definitions.asset_checks, selection=["trainer"],
                                 partition_key=DAY, instance=instance)
        (materialization,) = trained.asset_materializations_for_node("trainer")
        assert materialization.metadata["left_out"].value == ["2026-10-31"]
        assert fitness.input_problems(dg.AssetKey("trainer"), "2026-10-31") == ["upstream.rule failed for 2026-10-31"]


def test_a_result_counts_only_for_the_materialization_it_judged():
    assets, checks = toy_location(True, dg.AssetCheckSeverity.ERROR, True)
    graph = dg.Definitions(assets=assets, asset_checks=checks).resolve_asset_graph()
    with dg.instance_for_test() as instance:
        dg.materialize([*assets, *checks], selection=[UPSTREAM], partition_key=DAY, instance=instance)
        assert Fitness(instance, graph).input_problems(GUARDED, DAY) == []
        # Materialized again without its check: the pass judged the data before.
        dg.materialize([*assets, *checks], selection=dg.AssetSelection.assets(UPSTREAM).without_checks(),
                       partition_key=DAY, instance=instance)
        assert Fitness(instance, graph).input_problems(GUARDED, DAY) == [
            f"upstream.rule has not judged the latest materialization of {DAY}"]
        (judged,) = judgements(instance, dg.AssetCheckKey(UPSTREAM, "rule")).values()
        assert (judged.verdict, judged.current) == (PASSED, False)
        blocked = dg.materialize([*assets, *checks], selection=[GUARDED], partition_key=DAY, instance=instance,
                                 raise_on_error=False)
        assert not blocked.success


NEXT_DAY, TRAINER, PAIR = dg.AssetKey("next_day"), dg.AssetKey("trainer"), dg.AssetKey("pair")


def test_what_runs_next_counts_what_runs_before_it_in_the_same_run():
    """`runnable`, the decision of the nightly schedule and `meridian launch`: of the keys asked,
    in lineage order, those whose needs are fit, counting the keys before them in the same run."""
    with window_with_a_failed_middle_day() as (_, graph, instance):
        assert runnable(instance, graph, [TRAINER, NEXT_DAY], DAY) == (
            [TRAINER], {NEXT_DAY: ["upstream.rule failed for 2026-10-31"]})
        # The next day: upstream is not there yet, but runs first in the same run.
        later = "2026-11-02"
        assert runnable(instance, graph, [TRAINER], later) == ([], {TRAINER: [f"upstream is not materialized for {later}"]})
        ready, held = runnable(instance, graph, [NEXT_DAY, TRAINER, UPSTREAM], later)
        assert (ready[0], set(ready), held) == (UPSTREAM, {UPSTREAM, NEXT_DAY, TRAINER}, {})


def test_failed_checks_come_first_and_days_before_the_first_have_no_history():
    definitions = window_location({"2026-10-30": True, "2026-10-31": False})
    graph = definitions.resolve_asset_graph()
    with dg.instance_for_test() as instance:
        for day in DAYS[:2]:
            dg.materialize(definitions.assets + definitions.asset_checks, selection=[UPSTREAM], partition_key=day,
                           instance=instance, raise_on_error=False)
        fitness = Fitness(instance, graph)
        # The cause before what is merely missing, though it sorts after it.
        assert fitness.input_problems(PAIR, DAY) == [
            "upstream.rule failed for 2026-10-31", f"upstream is not materialized for {DAY}"]
        assert fitness.problems(PAIR, DAY) == [
            "upstream.rule failed for 2026-10-31", f"pair is not materialized for {DAY}",
            f"upstream is not materialized for {DAY}"]
        # The first day reads days before any drop: nothing there can be missing.
        assert fitness.input_problems(PAIR, "2026-10-30") == []
        assert fitness.left_out(TRAINER, "2026-10-30") == {}
        assert fitness.problems(UPSTREAM, "2026-10-29") == []
        # A day before the first has nothing to be built from.
        assert fitness.input_problems(NEXT_DAY, "2026-10-29") == [
            "next_day 2026-10-29: no drop ingested on or before it (first day: 2026-10-30)"]
        assert fitness.left_out(TRAINER, DAY) == {"2026-10-31": ["upstream.rule failed for 2026-10-31"]}


def test_every_blocking_check_counts_and_each_days_newest_result_is_read():
    """A check that blocks nothing does not hide the blocking ones after it; a day judged again
    does not hide the days judged before it."""

    @dg.asset(partitions_def=daily_partitions)
    def upstream() -> None:
        pass

    @dg.asset_check(asset=upstream, blocking=False, partitions_def=daily_partitions)
    def a_notice() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)

    @dg.asset_check(asset=upstream, blocking=True, partitions_def=daily_partitions)
    def b_rule(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=context.partition_key != DAY)

    @dg.asset(partitions_def=daily_partitions, deps=[upstream])
    def guarded() -> None:
        pass

    definitions = dg.Definitions(assets=[upstream, guarded], asset_checks=[a_notice, b_rule])
    with dg.instance_for_test() as instance:
        for day in ("2026-10-31", DAY, DAY):  # the first day, then DAY judged twice
            dg.materialize([upstream, a_notice, b_rule], partition_key=day, instance=instance, raise_on_error=False)
        assert Fitness(instance, definitions.resolve_asset_graph()).input_problems(GUARDED, DAY) == [
            f"upstream.b_rule failed for {DAY}"]
        judged = judgements(instance, dg.AssetCheckKey(UPSTREAM, "b_rule"))
        assert {day: (j.verdict, j.evaluation.passed) for day, j in judged.items()} == {
            "2026-10-31": (PASSED, True), DAY: (FAILED, False)}
