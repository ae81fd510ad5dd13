"""The end-to-end scale benchmark of issue 15: a 40,000-vehicle day through the Dagster CLI.

    python benchmarks/scale.py [--vehicles 40000] [--day D (yesterday)] [--concurrent-days 2] [--json PATH]

It does what a user does, in a fresh temporary folder: a DAGSTER_HOME holding this project's
dagster.yaml, a landing zone and a lake, handed to `dagster asset materialize` in the variables the
Makefile exports. It needs the dbt manifest (`make manifest`). At 40,000 vehicles it needs about
20 GB of disk, 10+ GiB of RAM and a long time: the history alone ingests and checks seven 35M-ping
GPS days.

1. The synthetic vendor writes D-7..D. Not measured: its seconds are reported apart.
2. History: ONE run builds D-7..D-1 of every raw source, feature group and the ml table, with
   their checks (single-run backfill policies), so that D's model trains on seven days. Measured,
   and reported apart from the main figures.
3. Main: `--select '*' --partition D`, everything for day D. Its wall time and the peak RSS of its
   whole process tree (the CLI, the Spark JVM, dbt) are the figures of issue 15. The executor is
   in-process, so the steps are timed from the run's event log, and a step's peak is the largest
   tree sample inside its window: that includes what earlier steps left allocated.
4. The raw GPS checks of D alone, in a fresh process, with the seven earlier days in the lake and
   with only D-1 (a hard-linked copy of the two days): their cost must not depend on history.
5. A DuckDB reference of D's features/gps (feature_groups.duckdb_gps_features) in a fresh process,
   on the same raw partition, beside the Spark step; the two outputs must agree.
6. `--concurrent-days N` (default 2; 0 skips): N copies of the state after step 2 (instance copied,
   lake hard-linked, landing shared) run step 3 at the same time. Same day and inputs as the
   single run, so the figures compare with it directly, and no run reads a partition another is
   writing (runs of D and D+1 in one lake would: D+1's checks and features read day D). Separate
   instances also mean that the `spark` and `duckdb` pools (limit 1 per instance) do not
   serialize the runs' Spark and dbt steps: the worst case for memory.

A run may end with the model not trained or held back by its gate (a short history): that is
reported as it is. A failed ERROR check on any other asset is reported as a problem and makes the
exit status 1 once the report is out. A step failing for any other reason, or a CLI failing
without a run, stops the benchmark with the end of the CLI's output (the folder is kept).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dagster as dg
from dagster import DagsterEventType

from spark_jobs.layout import partition_dir

from feature_groups import compare_gps, machine
from measure import TreeMemory, measured_child

VENV_BIN = Path(sys.prefix) / "bin"  # the venv running this script: its dagster, dbt and spark-submit
MIB, GIB = 1024**2, 1024**3
PEAK_LIMIT, WALL_LIMIT = 6 * GIB, 300  # issue 15, per run
STEP_LIMITS = {"raw_gps_telemetry": 60, "raw_gps_telemetry_checks": 60}  # seconds, issue 15
GATED = ("delivery_time_model", "deployed_model")  # training and deployment may hold back on a short history
CHECK_FAILED = "DagsterAssetCheckFailedError"  # how a blocking check that fails with ERROR fails its step
# Everything but training and deployment, so that day D trains on seven earlier days.
HISTORY_SELECTION = "group:raw_ingestion or group:features or group:ml_ready"

DUCKDB_CHILD = r'''
import json, sys, time
from pathlib import Path
import duckdb, psutil
from feature_groups import duckdb_gps_features
lake, day, out = sys.argv[1:]
before = psutil.Process().memory_info().rss
started = time.perf_counter()
rows = duckdb_gps_features(duckdb.connect(), Path(lake), day, Path(out))
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started, "rss_before_bytes": before}))
'''


CHECKS_CHILD = r'''
import json, sys, time
from pathlib import Path
from meridian_assets.lake import Lake
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.ingestion.checks import raw_rules
from meridian_assets.lake import RAW_TABLES
from meridian_assets.quality import Partition
lake, day = sys.argv[1:]
started = time.perf_counter()
partition = Partition(Lake(root=str(lake)), RAW_TABLES["gps"], day)
passed = {rule.name: rule.evaluate(partition).passed for rule in raw_rules(SOURCES["gps"])}
print(json.dumps({"seconds": time.perf_counter() - started, "passed": passed}))
'''


def shift(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def new_place(folder: Path, landing: Path) -> dict:
    """A fresh instance (this project's dagster.yaml) and lake, over `landing`."""
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return {"home": home, "landing": landing, "lake": folder / "lake"}


def copy_place(place: dict, folder: Path) -> dict:
    """The state of `place` for a concurrent run: the instance copied, the lake hard-linked (runs
    replace a partition by renaming folders, never by writing into a file), the landing shared."""
    copy = {"home": folder / "dagster_home", "landing": place["landing"], "lake": folder / "lake"}
    shutil.copytree(place["home"], copy["home"])
    shutil.copytree(place["lake"], copy["lake"], copy_function=os.link)
    return copy


def generate(landing: Path, first: str, day: str, vehicles: int, log: Path) -> dict:
    """The synthetic vendor's drops for first..day, through its CLI; their sizes and its seconds."""
    started = time.perf_counter()
    with log.open("w") as out:
        subprocess.run([sys.executable, "-m", "meridian_assets.synthetic", str(landing), first, day,
                        "--vehicles", str(vehicles)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=True)
    return describe(landing, first, day, vehicles, time.perf_counter() - started)


def describe(landing: Path, first: str, day: str, vehicles: int, seconds: float | None) -> dict:
    gps = sorted((landing / "gps" / day).glob("part-*.parquet"))
    return {
        "vehicles": vehicles,
        "days": f"{first}..{day}",
        "gps_pings_of_day": sum(pq.ParquetFile(p).metadata.num_rows for p in gps),
        "gps_parquet_bytes_of_day": sum(p.stat().st_size for p in gps),
        "landing_bytes": sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()),
        "generate_seconds": seconds,
    }


def without_day(state: Path, landing: Path, folder: Path, day: str) -> dict:
    """A copy of an earlier run's state (instance copied, lake hard-linked) as it was before day
    `day` ran: its partitions of that day and the models removed."""
    place = copy_place({"home": state / "dagster_home", "landing": landing, "lake": state / "lake"}, folder)
    for partition in place["lake"].glob(f"**/date={day}"):
        shutil.rmtree(partition)
    shutil.rmtree(place["lake"] / "models", ignore_errors=True)
    return place


def start_cli(place: dict, arguments: list[str], log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": sys.prefix,
        "DAGSTER_HOME": str(place["home"]),
        "MERIDIAN_LANDING": str(place["landing"]),
        "MERIDIAN_LAKE": str(place["lake"]),
    }
    with log.open("w") as out:
        return subprocess.Popen([str(VENV_BIN / "dagster"), *arguments], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def read_run(home: Path, after: float) -> dict | None:
    """The newest run of the instance at `home`, if it was created after `after`: its steps as
    planned and as timed by the event log, its step failures, check results, the assets it did not
    materialize and the warnings its steps logged (why the model was not trained, say)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(limit=1)
        if not records or records[0].create_timestamp.timestamp() < after - 1:
            return None
        run = records[0].dagster_run
        stats = {s.step_key: s for s in instance.get_run_step_stats(run.run_id)}
        planned = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id).step_keys_to_execute
        entries = [r.event_log_entry for r in instance.get_records_for_run(run.run_id).records]
    steps = []
    for key in planned:
        s = stats.get(key)
        steps.append({
            "step": key,
            "status": s.status.value.lower() if s and s.status else "not run",
            "attempts": (s.attempts or 0) if s else 0,
            "start": s.start_time if s else None,
            "end": s.end_time if s else None,
        })
    steps.sort(key=lambda s: (s["start"] is None, s["start"] or 0.0))
    failures, checks, materialized, warnings = [], [], set(), []
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            if entry.level >= logging.WARNING:
                warnings.append(f"{entry.step_key}: {entry.user_message}")
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            chain, error = [], event.event_specific_data.error
            while error is not None:
                chain.append(error)
                error = error.cause
            failures.append({"step": event.step_key, "errors": [e.cls_name for e in chain],
                             "message": chain[-1].message.strip()})
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            checks.append({"asset": data.asset_key.to_user_string(), "check": data.check_name, "passed": data.passed,
                           "severity": data.severity.value, "description": data.description or "",
                           "partition": data.partition})
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialized.add(event.asset_key)
    return {"run_id": run.run_id, "status": run.status.value, "steps": steps, "failures": failures, "checks": checks,
            "not_materialized": sorted(k.to_user_string() for k in set(run.asset_selection or ()) - materialized),
            "warnings": warnings}


def gated(name: str) -> bool:
    return name.startswith(GATED)


def tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def judge(run: dict | None, exit_code: int, log: Path, clock: bool = True) -> list[str]:
    """Problems to report: ERROR check failures outside training and deployment (with `clock`
    False, not the freshness checks', which judge the clock rather than a day). Stops the benchmark
    on anything else: no run, or a step failing for a reason other than a check or the gate."""
    if run is None or (exit_code != 0 and not run["failures"]) or any(
        not gated(f["step"]) and CHECK_FAILED not in f["errors"] for f in run["failures"]
    ):
        failures = "" if run is None else "\n".join(
            f"  {f['step']}: {' <- '.join(f['errors'])}: {f['message'][:500]}" for f in run["failures"])
        raise SystemExit(f"\nThe CLI exited with {exit_code}; "
                         f"{'no run was recorded' if run is None else 'run ' + run['status']}.\n{failures}\n"
                         f"--- last lines of {log} ---\n{tail(log)}\n--- (folder kept: {log.parent}) ---")
    return [f"{c['asset']}.{c['check']}: {c['description']}" for c in run["checks"]
            if not c["passed"] and c["severity"] == "ERROR" and not gated(c["asset"])
            and (clock or c["partition"] is not None)]


def step_rows(run: dict, started: float, ended: float, memory: TreeMemory) -> list[dict]:
    """Per step: seconds and the peak tree RSS sampled inside it; plus the time before the first
    step (process start, loading the code location, the run's set-up) and after the last one."""
    timed = [s for s in run["steps"] if s["start"] is not None and s["end"] is not None]
    rows = []
    if timed:
        rows.append({"step": "(start-up: CLI, code location, run set-up)", "status": "", "start": started,
                     "end": timed[0]["start"]})
    first_spark = next((s["step"] for s in timed if s["step"].endswith("_features")), None)
    for s in run["steps"]:
        label = s["step"] + (" (first Spark step: starts the JVM)" if s["step"] == first_spark else "")
        status = s["status"] + (f" ({s['attempts']} attempts)" if s["attempts"] > 1 else "")
        rows.append({"step": label, "key": s["step"], "status": status, "start": s["start"], "end": s["end"]})
    if timed:
        rows.append({"step": "(after the last step: resources torn down, exit)", "status": "",
                     "start": max(s["end"] for s in timed), "end": ended})
    for row in rows:
        both = row["start"] is not None and row["end"] is not None
        row["wall_seconds"] = row["end"] - row["start"] if both else None
        row["peak_rss_bytes"] = memory.peak_between(row["start"], row["end"]) if both else None
    return rows


def run_phase(places: list[dict], arguments: list[str], name: str, work: Path, clock: bool = True) -> dict:
    """The same CLI command once per place, all at once; wall time and the peak RSS of all their
    process trees together, and per run its steps, checks and problems."""
    logs = [work / (f"{name}-{i + 1}.log" if len(places) > 1 else f"{name}.log") for i in range(len(places))]
    print(f"{name}: dagster {shlex.join(arguments)} (x{len(places)})", file=sys.stderr, flush=True)
    started_at, started = time.time(), time.perf_counter()
    processes = [start_cli(place, arguments, log) for place, log in zip(places, logs)]
    trees = [psutil.Process(p.pid) for p in processes]
    each = [TreeMemory([tree]) for tree in trees]
    together = TreeMemory(trees) if len(trees) > 1 else each[0]
    ended: dict[int, float] = {}
    while len(ended) < len(processes):
        for i, p in enumerate(processes):
            if i not in ended and p.poll() is not None:
                ended[i] = time.time()
        time.sleep(0.05)
    wall = time.perf_counter() - started
    total = together.peaks()
    runs = []
    for i, (place, process, log, memory) in enumerate(zip(places, processes, logs, each)):
        memory.stop()
        run = read_run(place["home"], started_at)
        problems = judge(run, process.returncode, log, clock)
        runs.append({
            "log": str(log), "exit_code": process.returncode, "run_id": run["run_id"], "status": run["status"],
            "wall_seconds": ended[i] - started_at, "peak_rss_bytes": memory.peaks()["total"],
            "steps": step_rows(run, started_at, ended[i], memory),
            "failures": run["failures"], "checks": run["checks"], "problems": problems,
            "not_materialized": run["not_materialized"], "warnings": run["warnings"],
        })
    together.stop()
    print(f"{name}: {wall:.1f} s, peak {total['total'] / GIB:.2f} GiB", file=sys.stderr, flush=True)
    return {"command": "dagster " + shlex.join(arguments), "wall_seconds": wall, "peak_rss_bytes": total["total"],
            "at_peak": total["at_peak"], "runs": runs}


def gps_checks_by_history(lake: Path, day: str, work: Path) -> dict:
    """The raw GPS checks of `day` with every earlier day of the lake, and with only the day before."""
    short = work / "one-day-history"
    for d in (shift(day, -1), day):
        shutil.copytree(partition_dir(lake, "raw/gps", d), partition_dir(short, "raw/gps", d), copy_function=os.link)
    print("gps checks: 7 and 1 history days, fresh processes", file=sys.stderr, flush=True)
    return {"7 days": measured_child(CHECKS_CHILD, str(lake), day), "1 day": measured_child(CHECKS_CHILD, str(short), day)}


def duckdb_reference(lake: Path, day: str, out: Path) -> dict:
    """features/gps of `day` by DuckDB in a fresh process, timed inside it, its RSS sampled; then
    compared with what the run's Spark step wrote."""
    print("duckdb: features/gps in a fresh process", file=sys.stderr, flush=True)
    result = measured_child(DUCKDB_CHILD, str(lake), day, str(out))
    try:
        result["outputs_agree_vehicles"] = compare_gps(partition_dir(lake, "features/gps", day), out / f"date={day}")
    except AssertionError as error:
        result["disagreement"] = str(error)
    return result


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / MIB:,.0f}"


def seconds(s: float | None) -> str:
    return "n/a" if s is None else f"{s:,.1f}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "yes" if ok else "**no**"


def print_steps(run: dict) -> None:
    print("| step | status | wall s | peak tree RSS MiB |\n|---|---|---:|---:|")
    for row in run["steps"]:
        print(f"| {row['step']} | {row['status']} | {seconds(row['wall_seconds'])} | {mib(row['peak_rss_bytes'])} |")
    print(f"| **whole CLI command** | {run['status'].lower()} | **{seconds(run['wall_seconds'])}** "
          f"| **{mib(run['peak_rss_bytes'])}** |")


def print_checks(run: dict) -> None:
    failed = [c for c in run["checks"] if not c["passed"]]
    print(f"\nChecks: {len(run['checks'])} results, {len(run['checks']) - len(failed)} passed"
          + ("." if not failed else "; failed:"))
    for c in failed:
        print(f"- {c['asset']}.{c['check']} ({c['severity']}): {c['description'][:300]}")
    for f in run["failures"]:
        print(f"- step {f['step']} failed: {f['errors'][-1]}: {f['message'].splitlines()[0][:300]}")
    for problem in run["problems"]:
        print(f"- **problem**: {problem[:300]}")
    print(f"\nNot materialized: {', '.join(run['not_materialized']) or 'none'}.")
    for warning in run["warnings"]:
        print(f"- logged: {warning[:300]}")


def processes(at_peak: list[dict]) -> str:
    """The processes of a peak by program: `java 1,252 MiB, python x5 61 MiB`."""
    by_name: dict[str, list[int]] = {}
    for p in at_peak:
        by_name.setdefault(p["process"].split(":", 1)[1], []).append(p["rss"])
    return ", ".join(f"{name}{f' x{len(rss)}' if len(rss) > 1 else ''} {mib(sum(rss))} MiB"
                     for name, rss in sorted(by_name.items(), key=lambda item: -sum(item[1])))


def step_of(run: dict, key: str) -> dict | None:
    return next((r for r in run["steps"] if r.get("key") == key), None)


def targets(result: dict) -> list[tuple[str, str, str, bool | None]]:
    main = result["main"]["runs"][0]
    rows = [
        ("main run: peak RSS of the process tree", f"{PEAK_LIMIT / GIB:.0f} GiB", f"{main['peak_rss_bytes'] / GIB:.2f} GiB",
         main["peak_rss_bytes"] <= PEAK_LIMIT),
        ("main run: wall time", f"{WALL_LIMIT / 60:.0f} min", f"{main['wall_seconds']:.0f} s", main["wall_seconds"] <= WALL_LIMIT),
    ]
    for key, limit in STEP_LIMITS.items():
        step = step_of(main, key)
        wall = step and step["wall_seconds"]
        rows.append((f"step `{key}`", f"{limit} s", seconds(wall), None if wall is None else wall <= limit))
    if "concurrent" in result:
        c = result["concurrent"]
        limit = len(c["runs"]) * PEAK_LIMIT
        rows.append((f"{len(c['runs'])} concurrent runs: peak RSS of all trees together", f"{limit / GIB:.0f} GiB",
                     f"{c['peak_rss_bytes'] / GIB:.2f} GiB", c["peak_rss_bytes"] <= limit))
    return rows


def print_report(result: dict) -> None:
    m, d, args = result["machine"], result["data"], result["args"]
    main, history = result["main"]["runs"][0], result["history"]
    print(f"# Scale benchmark: {d['vehicles']:,} vehicles, day {args['day']}\n")
    print(f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_total_bytes'] / GIB:.1f} GiB RAM; "
          f"load average {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])} at the start, "
          f"{', '.join(f'{x:.2f}' for x in result['load_average_at_end'])} at the end; {result['started']}. "
          f"Python {m['python']}, Dagster {result['dagster']}, Spark {m['spark']}, DuckDB {m['duckdb']}, {m['java']}.\n")
    print(f"Data: {d['vehicles']:,} vehicles; day {args['day']}: {d['gps_pings_of_day']:,} GPS pings, "
          f"{d['gps_parquet_bytes_of_day'] / 1e6:,.0f} MB of GPS Parquet; landing {d['days']}: "
          f"{d['landing_bytes'] / 1e6:,.0f} MB, written by the synthetic vendor"
          + (f" in {d['generate_seconds']:.0f} s (not measured).\n" if d["generate_seconds"] else " earlier.\n"))
    print("## Targets (issue 15)\n\n| what | target | measured | met |\n|---|---|---|---|")
    for what, limit, measured, ok in targets(result):
        print(f"| {what} | {limit} | {measured} | {verdict(ok)} |")

    print(f"\n## Main run: `{result['main']['command']}`\n")
    print("The executor is in-process: all steps run in the CLI's process, one after another. A step's "
          "peak is the largest sum of RSS over the process tree (the CLI, the Spark JVM, dbt) sampled "
          "every 0.1 s inside its window in the event log, so it includes what earlier steps left "
          "allocated (the JVM's heap once Spark has started, Python's heap).\n")
    print_steps(main)
    print(f"\nProcess tree at the peak: {processes(result['main']['at_peak'])}.")
    print_checks(main)

    duck, spark = result["duckdb"], step_of(main, "gps_features")
    print(f"\n## features/gps of {args['day']}: Spark in the run against DuckDB in a fresh process\n")
    print("| engine | wall s | peak RSS MiB |\n|---|---:|---:|")
    print(f"| Spark: step `gps_features` (tree of the whole run) | {seconds(spark and spark['wall_seconds'])} "
          f"| {mib(spark and spark['peak_rss_bytes'])} |")
    print(f"| DuckDB (`duckdb_gps_features`, 2 threads): its process "
          f"(Python with its imports: {mib(duck['rss_before_bytes'])}) | {duck['seconds']:.1f} | {mib(duck['peak_rss_bytes'])} |")
    print("\n" + (f"The outputs agree on {duck['outputs_agree_vehicles']:,} vehicles." if "outputs_agree_vehicles" in duck
                  else f"**The outputs disagree**: {duck['disagreement']}"))

    print(f"\n## Raw GPS checks of {args['day']} by history length (fresh process each, rules evaluated directly)\n")
    print("| history in the lake | wall s | peak RSS MiB | verdicts |\n|---|---:|---:|---|")
    for history_days, r in result["gps_checks"].items():
        verdicts = ", ".join(f"{name} {'passed' if ok else 'FAILED'}" for name, ok in r["passed"].items())
        print(f"| {history_days} | {r['seconds']:.1f} | {mib(r['peak_rss_bytes'])} | {verdicts} |")

    if "reused" in history:
        print(f"\n## History: reused from {history['reused']} (its `main` state without {args['day']})")
    else:
        print(f"\n## History, apart: `{history['command']}`\n")
        print_steps(history["runs"][0])
        print_checks(history["runs"][0])

    if "concurrent" in result:
        c = result["concurrent"]
        print(f"\n## {len(c['runs'])} concurrent runs of the main command\n")
        print("Each in a copy of the state after the history run (its own instance and lake, one landing), "
              "all started at once. Total wall is until the last one ended; the peak is the largest sum "
              "over all their process trees at one moment.\n")
        print("| run | status | wall s | peak tree RSS MiB | gps_features s | raw_gps_telemetry s |\n|---|---|---:|---:|---:|---:|")
        for i, run in enumerate(c["runs"], 1):
            gps, raw = step_of(run, "gps_features"), step_of(run, "raw_gps_telemetry")
            print(f"| {i} | {run['status'].lower()} | {run['wall_seconds']:.1f} | {mib(run['peak_rss_bytes'])} "
                  f"| {seconds(gps and gps['wall_seconds'])} | {seconds(raw and raw['wall_seconds'])} |")
        print(f"| **all together** | | **{c['wall_seconds']:.1f}** | **{mib(c['peak_rss_bytes'])}** | | |")
        print(f"\nProcess trees at the peak: {processes(c['at_peak'])}.")
        for i, run in enumerate(c["runs"], 1):
            for problem in run["problems"]:
                print(f"- run {i}, **problem**: {problem[:300]}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=40_000)
    # Yesterday by default, as the nightly run's: the freshness checks judge the clock, and on an
    # older day they fail, rightly (a run of 2026-11-24 on 2026-12-07 found both overdue).
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    parser.add_argument("--day", default=yesterday, help="day D (default: yesterday, UTC); the history is D-7..D-1")
    parser.add_argument("--concurrent-days", type=int, default=2, metavar="N",
                        help="runs of day D at once, each in its own instance and lake (0: none)")
    parser.add_argument("--workdir", help="where the temporary folder goes (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the folder (instances, lakes, CLI logs)")
    parser.add_argument("--json", help="write the figures here (default: benchmarks/out/scale-<time>.json)")
    parser.add_argument("--history-from", metavar="DIR",
                        help="skip generation and history: reuse the landing and the history of an earlier run's "
                        "folder (--keep), its `main` state without day D's partitions and models")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not (ROOT / "dbt_project" / "target" / "manifest.json").exists():
        raise SystemExit("no dbt manifest: run `make manifest` first")
    work = Path(tempfile.mkdtemp(prefix="meridian-scale-", dir=args.workdir))
    print(f"working in {work}", file=sys.stderr, flush=True)
    first, last = shift(args.day, -7), shift(args.day, -1)
    result = {"started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
              "dagster": dg.__version__, "args": vars(args)}
    if args.history_from:
        landing = Path(args.history_from) / "landing"
        result["data"] = describe(landing, first, args.day, args.vehicles, None)
        place = without_day(Path(args.history_from) / "main", landing, work / "main", args.day)
        result["history"] = {"reused": args.history_from}
    else:
        landing = work / "landing"
        result["data"] = generate(landing, first, args.day, args.vehicles, work / "generate.log")
        place = new_place(work / "main", landing)
        result["history"] = run_phase([place], ["asset", "materialize", "-m", "meridian_assets.definitions",
                                                "--select", HISTORY_SELECTION, "--partition-range",
                                                f"{first}...{last}"], "history", work,
                                       clock=False)  # built before day D arrives: D is rightly overdue
    copies = [copy_place(place, work / f"concurrent-{i + 1}") for i in range(args.concurrent_days)]
    day_run = ["asset", "materialize", "-m", "meridian_assets.definitions", "--select", "*", "--partition", args.day]
    result["main"] = run_phase([place], day_run, "main", work)
    result["gps_checks"] = gps_checks_by_history(place["lake"], args.day, work)
    result["duckdb"] = duckdb_reference(place["lake"], args.day, work / "duckdb" / "features" / "gps")
    if copies:
        result["concurrent"] = run_phase(copies, day_run, "concurrent", work)
    result["load_average_at_end"] = os.getloadavg()

    print_report(result)
    out = Path(args.json) if args.json else ROOT / "benchmarks" / "out" / f"scale-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nFigures in {out}" + (f"; folder kept: {work}" if args.keep else ""))
    if not args.keep:
        shutil.rmtree(work)
    runs = [r for phase in ("history", "main", "concurrent") for r in result.get(phase, {}).get("runs", [])]
    if any(r["problems"] for r in runs) or "disagreement" in result["duckdb"]:
        raise SystemExit("problems in the pipeline: see the report")


if __name__ == "__main__":
    main()
