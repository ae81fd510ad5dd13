"""A daemon backfill of a date range, submitted as README says: it lands on the instance (the UI's
Backfills page) for the daemon to run, one run per day of the data assets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

PROJECT = Path(__file__).resolve().parents[2]


def test_dagster_job_backfill_queues_one_run_per_day_for_the_daemon(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_bytes((PROJECT / "dagster.yaml").read_bytes())
    subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "job", "backfill", "-w", "workspace.yaml",
         "-j", "data_backfill", "--from", "2026-11-01", "--to", "2026-11-03", "--noprompt"],
        cwd=PROJECT, env=env, check=True, capture_output=True,
    )
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        (backfill,) = instance.get_backfills()
        assert backfill.partition_names == ["2026-11-01", "2026-11-02", "2026-11-03"]
        assert backfill.partition_set_origin.partition_set_name == "data_backfill_partition_set"
        runs = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == backfill.partition_names
        assert {run.status for run in runs} == {dg.DagsterRunStatus.QUEUED}, "the daemon runs them, not the command"
        assert {run.tags["dagster/backfill"] for run in runs} == {backfill.backfill_id}
