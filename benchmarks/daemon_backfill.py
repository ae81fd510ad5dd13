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
import os
import platform
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
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES  # noqa: E402

from measure import TreeMemory  # noqa: E402
from meridian_assets import cli  # noqa: E402

QUIET = {"landing_sensor", "downstream_automation", "freshness_checks_sensor"}  # the alert sensor stays on


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--vehicles", type=int, default=1000)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 9, 30))
    parser.add_argument("--timeout-hours", type=float, default=6)
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
        with cli.code_location(instance, str(ROOT / "workspace.yaml")) as (_, _, repository):
            for sensor in repository.get_sensors():
                if sensor.name in QUIET:
                    instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
        bin_dir = Path(sys.executable).parent
        submitted = time.perf_counter()
        subprocess.run([str(bin_dir / "dagster"), "job", "backfill", "-w", str(ROOT / "workspace.yaml"),
                        "-j", "data_backfill", "--from", start.isoformat(), "--to", args.end.isoformat(),
                        "--noprompt"], cwd=ROOT, env=env, check=True, capture_output=True)
        daemon = subprocess.Popen([str(bin_dir / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
                                  cwd=ROOT, env=env, stdout=(root / "daemon.log").open("w"),
                                  stderr=subprocess.STDOUT, start_new_session=True)
        memory = TreeMemory([psutil.Process(daemon.pid)], interval=0.5)
        try:
            deadline = time.monotonic() + args.timeout_hours * 3600
            while len(instance.get_runs()) < args.days or instance.get_run_records(
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
            days_done = len({r.tags.get("dagster/partition") for r in runs if r.status == dg.DagsterRunStatus.SUCCESS})
        finally:
            memory.stop()
            os.killpg(daemon.pid, 15)
            daemon.wait(timeout=60)
            instance.dispose()

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{date.today()}")
    print(f"data: {args.days} days ({start}..{args.end}) of {args.vehicles:,} vehicles; drops written in {written:.0f} s "
          "(not measured)")
    print("| wall (submission to last run) | runs | by status | run retries | step retries | days succeeded | "
          "peak RSS of the daemon's tree |\n|---|---|---|---|---|---|---|")
    print(f"| {wall / 60:.1f} min | {len(runs)} | {dict(statuses)} | {run_retries} | {step_retries} | "
          f"{days_done}/{args.days} | {peak / 2**30:.2f} GiB |")


if __name__ == "__main__":
    main()
