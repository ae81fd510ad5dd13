"""Every private Dagster name the project uses, in one place (docs/ARCHITECTURE.md, "Private
Dagster names", says why each is needed and which public alternative was tried). An upgrade
that moves one breaks this module's import, not the code that relies on it."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.declarative_automation.operands.subset_automation_condition import (
    SubsetAutomationCondition,
)

__all__ = ["SubsetAutomationCondition", "code_location", "create_run", "evaluation_of"]


def evaluation_of(result: dg.AssetCheckResult, key: dg.AssetCheckKey, day: str, blocking: bool,
                  target: dg.EventLogRecord | None) -> dg.AssetCheckEvaluation:
    """`result` recorded on `day`, as the judgement of the materialization `target`: what Dagster
    itself records for a one-day step's AssetCheckResult, and cannot for a multi-day step's."""
    return dg.AssetCheckEvaluation(
        asset_key=key.asset_key, check_name=key.name, passed=result.passed, metadata=result.metadata,
        severity=result.severity, description=result.description, blocking=blocking, partition=day,
        target_materialization_data=AssetCheckEvaluationTargetMaterializationData(
            storage_id=target.storage_id, run_id=target.run_id, timestamp=target.timestamp) if target else None,
    )


@contextmanager
def code_location(instance: dg.DagsterInstance, workspace_file: str) -> Iterator[tuple]:
    """The workspace of `workspace_file`, loaded as the webserver and the daemon load it (its code
    server in a process of its own), its code location and its one repository."""
    from dagster._cli.workspace.cli_target import (
        get_code_location_from_workspace, get_remote_repository_from_code_location, get_workspace_from_cli_opts,
    )
    from dagster_shared.cli import WorkspaceOpts

    with get_workspace_from_cli_opts(instance, dg.__version__, WorkspaceOpts(workspace=[workspace_file])) as workspace:
        location = get_code_location_from_workspace(workspace, None)
        yield workspace, location, get_remote_repository_from_code_location(location, None)


def create_run(instance: dg.DagsterInstance, location, repository, job_name: str, tags: dict[str, str],
               assets: Iterable[dg.AssetKey], checks: Iterable[dg.AssetCheckKey]) -> dg.DagsterRun:
    """A run of `assets` and `checks` of the job, created as the webserver creates a launched one:
    with the job's origin in the code location, so the UI's Overview and timeline show it."""
    from dagster._core.definitions.selector import JobSubsetSelector

    assets, checks = frozenset(assets), frozenset(checks)
    selector = JobSubsetSelector(location_name=location.name, repository_name=repository.name, job_name=job_name,
                                 op_selection=None, asset_selection=assets, asset_check_selection=checks)
    job = location.get_job(selector)
    plan = location.get_execution_plan(job, {}, step_keys_to_execute=None, known_state=None, instance=instance)
    return instance.create_run(
        job_name=job_name, run_id=None, run_config={}, resolved_op_selection=job.resolved_op_selection,
        step_keys_to_execute=plan.execution_plan_snapshot.step_keys_to_execute, op_selection=None, status=None,
        root_run_id=None, parent_run_id=None, tags=tags, job_snapshot=job.job_snapshot,
        execution_plan_snapshot=plan.execution_plan_snapshot, parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
        asset_selection=assets, asset_check_selection=checks, asset_graph=repository.asset_graph,
    )
