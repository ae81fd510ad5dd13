"""The load benchmark of issue 19: a daemon backfill of many days, as README says to submit one.

    python benchmarks/daemon_backfill.py [--days 90] [--vehicles 1000] [--end 2026-09-30] [--timeout-hours 6]

In a fresh temporary folder: a DAGSTER_HOME with this project's dagster.yaml (SQLite, the queue
with at most 4 runs and one per day, the pools, run monitoring and run retries), the synthetic
vendor's drops for the days (not measured), then `dagster job backfill -j data_backfill` over
them and a real `dagster-daemon` that runs it. Reported: wall time from submission until every run
has ended, runs by status, run retries (runs with a parent) and step retries, and the peak RSS of
the daemon's whole process tree (its code server and every run with its Spark JVM and dbt).
Needs the dbt manifest (`make manifest`). At 90 days of 1,000 vehicles: about 2 GB of landing and
hours of machine time.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
from dagster._core.execution.backfill import BulkActionStatus  # noqa: E402
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES  # noqa: E402

from measure import TreeMemory  # noqa: E402
from meridian_assets.dagster_private import code_location  # noqa: E402
from spark_jobs.layout import days_between  # noqa: E402

ENDED = {BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED,
         BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
LAUNCH = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
QUIET = {"landing_sensor", "downstream_automation", "freshness_checks_sensor"}  # the alert sensor stays on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 9, 30))
    parser.add_argument("--timeout-hours", type=float, default=6)
    parser.add_argument("--per-day", action="store_true",
                        help="submit with `dagster job backfill` (one run per day) instead of as the UI does")
    args = parser.parse_args()
    from meridian_assets.synthetic import write_day

    start = args.end - timedelta(days=args.days - 1)
    with tempfile.TemporaryDirectory(prefix="meridian-load-") as scratch:
        root = Path(scratch)
        home = root / "dagster_home"
        home.mkdir()
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        env = {**os.environ, "DAGSTER_HOME": str(home), "MERIDIAN_LANDING": str(root / "landing"),
               "MERIDIAN_LAKE": str(root / "lake"), "MERIDIAN_SPARK_MASTER": "local[2]",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        written = time.perf_counter()
        for offset in range(args.days):
            write_day(root / "landing", start + timedelta(days=offset), vehicles=args.vehicles, seed=11, progress=False)
        written = time.perf_counter() - written

        instance = dg.DagsterInstance.from_config(str(home))
        # The backfill alone: the drops already have their sentinels, so the landing sensor (and
        # automation after it) would ingest every day a second time.
        with code_location(instance, str(ROOT / "workspace.yaml")) as (_, _, repository):
            for sensor in repository.get_sensors():
                if sensor.name in QUIET:
                    instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
        bin_dir = Path(sys.executable).parent
        days = [(start + timedelta(days=offset)).isoformat() for offset in range(args.days)]
        submitted = time.perf_counter()
        submit = submit_per_day if args.per_day else submit_as_the_ui_does
        submit(bin_dir, env, days)
        daemon = subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
                                  cwd=ROOT, env=env, stdout=(root / "daemon.log").open("w"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        memory = TreeMemory([psutil.Process(daemon.pid)], interval=0.5)
        try:
            deadline = time.monotonic() + args.timeout_hours * 3600
            while not all(b.status in ENDED for b in instance.get_backfills()) or instance.get_run_records(
                    dg.RunsFilter(statuses=NOT_FINISHED_STATUSES), limit=1):
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the daemon stopped or the backfill timed out; see {root / 'daemon.log'}")
                time.sleep(5)
            wall = time.perf_counter() - submitted
            peak = memory.peaks()["total"]
            runs = instance.get_runs()
            statuses = collections.Counter(r.status.value for r in runs)
            run_retries = sum(1 for r in runs if r.parent_run_id)
            step_retries = sum(len(instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY))
                               for r in runs)
            days_done = sum(len(run_days(r)) for r in runs if r.status == dg.DagsterRunStatus.SUCCESS)
            steps = step_seconds(instance, runs)
        finally:
            memory.stop()
            os.killpg(daemon.pid, 15)
            daemon.wait(timeout=60)
            instance.dispose()

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{date.today()}")
    print(f"submitted: {'one run per day (dagster job backfill)' if args.per_day else 'as the UI does (launchPartitionBackfill)'}")
    print(f"data: {args.days} days ({start}..{args.end}) of {args.vehicles:,} vehicles; drops written in {written:.0f} s "
          "(not measured)")
    print("| wall (submission to last run) | runs | by status | run retries | step retries | days succeeded | "
          "peak RSS of the daemon's tree |\n|---|---|---|---|---|---|---|")
    print(f"| {wall / 60:.1f} min | {len(runs)} | {dict(statuses)} | {run_retries} | {step_retries} | "
          f"{days_done}/{args.days} | {peak / 2**30:.2f} GiB |")
    print("\nWhere a run's time goes (seconds from step start to end, median and max over the runs):")
    for key, seconds in sorted(steps.items(), key=lambda item: -statistics.median(item[1])):
        print(f"  {key:40} {statistics.median(seconds):6.1f} {max(seconds):6.1f}")


def submit_per_day(bin_dir: Path, env: dict, days: list[str]) -> None:
    """`dagster job backfill`: the command line queues one run per day itself."""
    subprocess.run([str(bin_dir / "dagster"), "job", "backfill", "-w", str(ROOT / "workspace.yaml"),
                    "-j", "data_backfill", "--from", days[0], "--to", days[-1], "--noprompt"],
                   cwd=ROOT, env=env, check=True, capture_output=True)


def submit_as_the_ui_does(bin_dir: Path, env: dict, days: list[str]) -> None:
    """The UI's mutation: the daemon then launches runs as the job's backfill policy says (one run
    for the range, as every data asset is single-run)."""
    params = {"selector": {"partitionSetName": "data_backfill_partition_set", "repositorySelector": {
        "repositoryLocationName": "meridian_assets", "repositoryName": "__repository__"}}, "partitionNames": days}
    out = subprocess.run([str(bin_dir / "dagster-graphql"), "-w", str(ROOT / "workspace.yaml"), "-t", LAUNCH,
                          "-v", json.dumps({"params": params})], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True).stdout
    if "LaunchBackfillSuccess" not in out:
        raise SystemExit(f"the backfill was not launched: {out}")


def run_days(run: dg.DagsterRun) -> list[str]:
    tags = run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    return days_between(tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"])


def step_seconds(instance: dg.DagsterInstance, runs) -> dict[str, list[float]]:
    """Each step's execution time per run, and the run's own (start to end, queue excluded)."""
    times: dict[str, list[float]] = collections.defaultdict(list)
    for run in runs:
        started: dict[str, float] = {}
        for event in instance.all_logs(run.run_id):
            kind = event.dagster_event_type
            key = event.step_key or "(whole run)"
            if kind in (dg.DagsterEventType.STEP_START, dg.DagsterEventType.RUN_START):
                started[key] = event.timestamp
            elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE,
                          dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE) and key in started:
                times[key].append(event.timestamp - started.pop(key))
    return times


if __name__ == "__main__":
    main()
