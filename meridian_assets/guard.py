"""Fit to use: one meaning for the guard, automation, the nightly schedule and `meridian launch`.

Blocking checks stop downstream steps only inside one run; schedules, sensors, automation and
people start new runs. So whatever builds, trains or deploys across runs asks here whether the
partitions it reads are fit, following the partition mappings (`lineage.needs`) all the way up:
a day is unfit when it, or anything it reads, is not materialized or has a blocking check that
failed with ERROR severity or has not judged its latest materialization.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import dagster as dg
from meridian_assets.lineage import needs, reads
from spark_jobs.layout import days_between

FORCE_TAG = "meridian/force"  # set to "true" to run on purpose past failed or missing checks
FORCE_BY_TAG = "meridian/force_by"  # who overrides the checks: required with FORCE_TAG
FORCE_REASON_TAG = "meridian/force_reason"  # and why
PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
FINISHED_CHECK = {"SUCCEEDED", "FAILED"}
CHECK_HISTORY = 10_000  # results read per check: the newest per day is the one that counts


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


def location_graph(context):
    """The whole location's asset graph, checks included; the run's own graph holds only what
    it selected (a run of training alone has no raw checks in it)."""
    graph = context.job_def.asset_layer.asset_graph
    return getattr(graph, "source_asset_graph", graph)


def run_days(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    run = instance.get_run_by_id(run_id)
    tags = run.tags if run else {}
    if PARTITION_TAG in tags:
        return {tags[PARTITION_TAG]}
    start, end = (tags.get(tag) for tag in RANGE_TAGS)
    return set(days_between(start, end)) if start and end else set()


PASSED, WARNED, FAILED = "passed", "warned", "failed"


@dataclass(frozen=True)
class Judgement:
    """A check's newest finished result on a day, and whether it judged the day's newest
    materialization (a result recorded before the day was materialized again does not)."""

    verdict: str  # PASSED, WARNED or FAILED: as inside a run, only an ERROR failure blocks
    current: bool
    evaluation: dg.AssetCheckEvaluation


def latest_materializations(instance: dg.DagsterInstance, key: dg.AssetKey) -> Mapping[str, int]:
    """Storage id of each day's newest materialization of `key`."""
    return instance.event_log_storage.get_latest_storage_id_by_partition(
        key, dg.DagsterEventType.ASSET_MATERIALIZATION)


def judgements(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey,
               materialized: Mapping[str, int] | None = None) -> dict[str, Judgement]:
    """Per day, the check's newest finished result; days without one are absent."""
    if materialized is None:
        materialized = latest_materializations(instance, check_key.asset_key)
    found: dict[str, Judgement] = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=CHECK_HISTORY):
        day = record.partition
        if day is None or day in found or record.status.value not in FINISHED_CHECK:
            continue
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        verdict = PASSED if evaluation.passed else WARNED if evaluation.severity == dg.AssetCheckSeverity.WARN else FAILED
        target = evaluation.target_materialization_data
        found[day] = Judgement(verdict, target is not None and target.storage_id == materialized.get(day), evaluation)
    return found


class Fitness:
    """Whether partitions are fit to use, as the instance says now. `pending` holds the partitions
    a run will build before the one asked about: their own checks will be judged there, so only
    what they need counts. Days before the first day any drop was ingested are no history yet."""

    def __init__(self, instance: dg.DagsterInstance, graph, pending: Mapping[dg.AssetKey, Iterable[str]] | None = None):
        self.instance, self.graph = instance, graph
        self.pending = {key: set(days) for key, days in (pending or {}).items()}
        self.materialized = cache(lambda key: latest_materializations(instance, key))
        self.judged = cache(lambda check_key: judgements(instance, check_key, self.materialized(check_key.asset_key)))
        self._problems: dict[tuple[dg.AssetKey, str], list[str]] = {}
        self._roots = [k for k in graph.toposorted_asset_keys
                       if graph.get(k).is_materializable and not graph.has_materializable_parents(k)]
        self._first_materialized = cache(lambda key: min(self.materialized(key), default=None))

    @property
    def first_day(self) -> str | None:
        """The first day any drop was ingested, or will be in the run asked about (`pending`)."""
        days = [d for k in self._roots for d in (self._first_materialized(k), *self.pending.get(k, ())) if d]
        return min(days, default=None)

    def own_problems(self, key: dg.AssetKey, day: str) -> list[str]:
        """Of the partition itself: materialized, and its blocking checks judged it and passed."""
        if day in self.pending.get(key, ()):
            return []
        name = key.to_user_string()
        if day not in self.materialized(key):
            return [f"{name} is not materialized for {day}"]
        problems = []
        for check_key in sorted(self.graph.get_check_keys_for_assets({key}), key=lambda k: k.name):
            if not self.graph.get_check_spec(check_key).blocking:
                continue
            judgement = self.judged(check_key).get(day)
            if judgement is None:
                problems.append(f"{name}.{check_key.name} did not run for {day}")
            elif not judgement.current:
                problems.append(f"{name}.{check_key.name} has not judged the latest materialization of {day}")
            elif judgement.verdict == FAILED:
                problems.append(f"{name}.{check_key.name} failed for {day}")
        return problems

    def problems(self, key: dg.AssetKey, day: str) -> list[str]:
        """Why partition `day` of `key` is not fit to use: its own problems and those of every
        partition it needs, failed checks (the causes) first. Empty when fit."""
        if (key, day) not in self._problems:
            first = self.first_day
            if first is not None and day < first:
                found: list[str] = []  # before the platform's first day: no history yet
            else:
                found = [*self.own_problems(key, day), *self.input_problems(key, day)]
            self._problems[key, day] = _causes_first(found)
        return self._problems[key, day]

    def input_problems(self, key: dg.AssetKey, day: str) -> list[str]:
        """Why what partition `day` of `key` needs is not fit (`lineage.needs`). Empty when fit.
        A day before the first day any drop was ingested has nothing to be built from."""
        if not self.graph.has_materializable_parents(key):
            return []
        first = self.first_day
        if first is None or day < first:
            return [f"{key.to_user_string()} {day}: no drop ingested on or before it (first day: {first or 'none yet'})"]
        return _causes_first(p for parent, days in needs(self.graph, key, day).items() for d in days
                             for p in self.problems(parent, d))

    def left_out(self, key: dg.AssetKey, day: str) -> dict[str, list[str]]:
        """The days partition `day` of `key` reads but does not need (a window it leaves out unfit
        days of) that are unfit, each with why."""
        needed = needs(self.graph, key, day)
        return {d: why for parent, days in reads(self.graph, key, day).items() for d in days
                if d not in needed.get(parent, []) and (why := self.problems(parent, d))}


def _causes_first(problems: Iterable[str]) -> list[str]:
    """Each problem once, failed checks (the causes) before what they held back."""
    return sorted(dict.fromkeys(problems), key=lambda line: ("failed for" not in line, line))


def runnable(instance: dg.DagsterInstance, graph, keys: Iterable[dg.AssetKey],
             day: str) -> tuple[list[dg.AssetKey], dict[dg.AssetKey, list[str]]]:
    """The one decision of what runs next, for the nightly schedule and `meridian launch` (and,
    tick by tick, automation's `UpstreamFit`: the same `Fitness.input_problems`): of `keys` for
    `day`, in lineage order, those whose needs are fit (counting the keys before them, which run
    first in the same run), and why each other is held."""
    fitness = Fitness(instance, graph)
    ready, held = [], {}
    for key in [k for k in graph.toposorted_asset_keys if k in set(keys)]:
        # Lineage order: nothing asked before `key` needs it, so no answer changes as it joins `pending`.
        why = fitness.input_problems(key, day)
        if why:
            held[key] = why
        else:
            ready.append(key)
            fitness.pending.setdefault(key, set()).add(day)
    return ready, held


def require_fit_inputs(context: dg.AssetExecutionContext) -> dict:
    """Fail unless what the partition needs is fit (`Fitness.input_problems`); name the days of a
    window it leaves out (`Fitness.left_out`) rather than refusing the partition for them.

    A person may override with the run tags meridian/force=true, meridian/force_by and
    meridian/force_reason: every day is then used, and the result records who and why.
    """
    day, key = context.partition_key, context.asset_key
    fitness = Fitness(context.instance, location_graph(context))
    problems, left_out = fitness.input_problems(key, day), fitness.left_out(key, day)
    forced = forced_by(context.run)
    if forced:
        if problems or left_out:
            context.log.warning(f"Forced past check problems by {forced['forced_by']} ({forced['forced_reason']}): "
                                f"{[*problems, *sum(left_out.values(), [])][:5]}")
        return {"forced_past_checks": len(problems) + sum(len(p) for p in left_out.values()), "left_out": {},
                "forced": forced}
    if problems:
        raise dg.Failure(
            description="Blocked: upstream blocking checks did not pass.\n" + "\n".join(problems[:30]),
            metadata={"problems": len(problems), "first": problems[0]},
            allow_retries=False,
        )
    for d, why in sorted(left_out.items()):
        context.log.warning(f"Leaving {d} out: {'; '.join(why)}")
    return {"forced_past_checks": 0, "left_out": dict(sorted(left_out.items())), "forced": {}}
