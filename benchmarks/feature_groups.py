"""The feature benchmark: the five Spark feature groups on one synthetic day, and a DuckDB
reference for the gps group (`make bench`).

    python benchmarks/feature_groups.py [--sizes 1000,10000,40000] [--repeats 3]

For each fleet size it writes one day of every source (the synthetic vendor's defaults: a
ping every 60 s over a 15 h shift) into a temporary lake, `{lake}/raw/{source}/date=D/`, then
times, in ONE Spark session (local[*], spark_jobs.session.SPARK_DEFAULTS: what the Dagster
assets use), each group's `run(spark, lake, D, D)`: the very function the assets call, so
reading the raw partition, computing, writing features/{group}/date=D atomically and reading
the counts back. Beside gps runs a single-process DuckDB implementation of the same features
(`duckdb_gps_features`, written from the docstrings of spark_jobs/gps_features.py), as the
reference for what one machine can do. Spark and DuckDB runs alternate (A B A B ...), and the
ratio is the median of the pairwise ratios, which cancels most of the noise of a shared machine.

Before any number is reported the two gps outputs must agree (same vehicles, counts equal,
floats within 1e-6 relative); otherwise the script fails.

Reported per size and group: input rows, wall seconds (median of the repeats, min-max), rows/s;
the Spark session start-up (JVM launch + SparkContext) once, apart, since a warm session (the
Dagster resource keeps one per run) never pays it per job; and the peak memory (RSS) of the
whole process tree (this Python process, DuckDB inside it, and the Spark JVM child), sampled by
a thread. The first run of every group in each size is a warm-up (JIT, caches) and not counted.

The customer group reads the day before its target day (the D-1 snapshot and D-28..D-1
deliveries, by the point-in-time rule), so it is run for D+1. Every earlier day a group's window
reads (route's and customer's 28 days of deliveries, weather's and traffic's D-1) is written too,
at the synthetic vendor's sparsest GPS rate (one ping an hour: no group reads GPS before D), so
each group reads its whole window; its input rows count every day of it.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import psutil
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import duckdb
import pyspark

from meridian_assets.contracts import GPS_FEATURES
from meridian_assets.synthetic import write_day
from spark_jobs import (
    customer_features,
    gps_features,
    route_features,
    traffic_features,
    weather_features,
)
from spark_jobs.layout import partition_dir, shift_day
from spark_jobs.session import build_session, SPARK_DEFAULTS

from measure import TreeMemory

GROUPS = {
    "gps": gps_features,
    "route": route_features,
    "weather": weather_features,
    "traffic": traffic_features,
    "customer": customer_features,
}
# The day each group is run for, as an offset from D: customer's input is day D's data.
RUN_OFFSET = {"customer": 1}
HISTORY_PING_SECONDS = 3600  # the earlier days' GPS, which no group reads
SOURCES = ("gps", "deliveries", "weather", "traffic", "customers")
GPS_COLUMNS = [c.name for c in GPS_FEATURES.columns]  # the contract both engines must meet
COUNT_COLUMNS = {"ping_count", "stop_count"}
REL_TOL = 1e-6
GIB = 1024**3


# --------------------------------------------------------------------------------------------
# The DuckDB reference for features/gps
# --------------------------------------------------------------------------------------------

DUCKDB_GPS_SQL = """
COPY (
    WITH pings AS (
        SELECT vehicle_id, epoch_us(event_ts) AS ts_us, lat, lon, speed_kph, ignition_on,
               speed_kph < {stopped_below} AS stopped
        FROM read_parquet({files})
    ),
    steps AS (
        -- What each ping adds to the previous one of its vehicle (null on the first), and an
        -- island number: the running count of pings that are not stopped, so the stopped pings
        -- of one maximal run share it and a moving (or speedless) ping separates runs.
        SELECT vehicle_id, ts_us, speed_kph, ignition_on, stopped,
            2 * {radius} * asin(sqrt(
                pow(sin(radians(lat - lag(lat) OVER w) / 2), 2)
                + cos(radians(lag(lat) OVER w)) * cos(radians(lat))
                  * pow(sin(radians(lon - lag(lon) OVER w) / 2), 2))) AS step_km,
            (ts_us - lag(ts_us) OVER w) / 60000000.0 AS gap_min,
            count(*) FILTER (WHERE stopped IS NOT TRUE) OVER (
                PARTITION BY vehicle_id ORDER BY ts_us, lat NULLS FIRST, lon NULLS FIRST, speed_kph NULLS FIRST
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island
        FROM pings
        WINDOW w AS (PARTITION BY vehicle_id ORDER BY ts_us, lat NULLS FIRST, lon NULLS FIRST, speed_kph NULLS FIRST)
    ),
    stops AS (
        SELECT vehicle_id, count(*) AS stop_count
        FROM (
            SELECT vehicle_id, island, (max(ts_us) - min(ts_us)) / 60000000.0 AS minutes
            FROM steps WHERE stopped GROUP BY vehicle_id, island
        )
        WHERE minutes >= {min_stop_minutes}
        GROUP BY vehicle_id
    ),
    per_vehicle AS (
        SELECT vehicle_id,
            count(*) AS ping_count,
            avg(speed_kph) AS mean_speed_kph,
            quantile_cont(speed_kph, 0.95) AS p95_speed_kph,
            avg((speed_kph >= {stopped_below})::DOUBLE) AS moving_fraction,
            avg((ignition_on AND speed_kph < {stopped_below})::DOUBLE) AS idle_fraction,
            coalesce(sum(step_km), 0.0) AS distance_km,
            max(gap_min) AS longest_gap_min,
            count(DISTINCT ((ts_us // 1000000) % 86400 + 86400) % 86400 // 3600) / 24.0
                AS active_hours_fraction
        FROM steps GROUP BY vehicle_id
    )
    SELECT vehicle_id, ping_count, mean_speed_kph, p95_speed_kph, moving_fraction, idle_fraction,
           coalesce(stop_count, 0) AS stop_count, distance_km, longest_gap_min, active_hours_fraction
    FROM per_vehicle LEFT JOIN stops USING (vehicle_id)
) TO '{target}' (FORMAT parquet)
"""


def duckdb_gps_features(con: duckdb.DuckDBPyConnection, lake: Path, day: str, out: Path) -> int:
    """features/gps of `day` computed by DuckDB, written to `{out}/date=D/part-0.parquet`.

    The same definitions as spark_jobs/gps_features.py (one row per vehicle and day; stops are
    maximal runs of consecutive pings with speed_kph < 1 whose first and last ping are >= 3
    minutes apart; haversine with R = 6371.0088 km; exact p95 with linear interpolation;
    pings ordered by event_ts, lat, lon, speed_kph with nulls first, as Spark sorts), but
    written independently in SQL. Returns the rows written.
    """
    files = sorted(glob.glob(str(partition_dir(lake, "raw/gps", day) / "*.parquet")))
    target = out / f"date={day}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    sql = DUCKDB_GPS_SQL.format(
        files="[" + ", ".join(f"'{f}'" for f in files) + "]",
        radius=gps_features.EARTH_RADIUS_KM,
        stopped_below=gps_features.STOPPED_BELOW_KPH,
        min_stop_minutes=gps_features.MIN_STOP_MINUTES,
        target=target / "part-0.parquet",
    )
    [(rows,)] = con.execute(sql).fetchall()
    return rows


def compare_gps(spark_dir: Path, duck_dir: Path) -> int:
    """Fail loudly unless the two features/gps partitions agree; returns the rows compared."""
    spark_rows = pq.read_table(spark_dir).select(GPS_COLUMNS).to_pandas().set_index("vehicle_id").sort_index()
    duck_rows = pq.read_table(duck_dir).select(GPS_COLUMNS).to_pandas().set_index("vehicle_id").sort_index()
    problems = []
    if not spark_rows.index.equals(duck_rows.index):
        only_spark = spark_rows.index.difference(duck_rows.index)
        only_duck = duck_rows.index.difference(spark_rows.index)
        problems.append(f"vehicles differ: {len(only_spark)} only in Spark {list(only_spark[:5])}, "
                        f"{len(only_duck)} only in DuckDB {list(only_duck[:5])}")
    if spark_rows.index.has_duplicates:
        problems.append("Spark output has duplicate vehicles")
    if not problems:
        for column in GPS_COLUMNS[1:]:
            a, b = spark_rows[column], duck_rows[column]
            if column in COUNT_COLUMNS:
                bad = a.to_numpy() != b.to_numpy()
            else:
                both_null = a.isna().to_numpy() & b.isna().to_numpy()
                close = [
                    math.isclose(x, y, rel_tol=REL_TOL, abs_tol=1e-12) for x, y in zip(a.fillna(0.0), b.fillna(0.0))
                ]
                bad = ~(both_null | (~a.isna().to_numpy() & ~b.isna().to_numpy() & close))
            if bad.any():
                sample = spark_rows.index[bad][:3]
                problems.append(
                    f"{column}: {int(bad.sum())} vehicles differ, e.g. "
                    + "; ".join(f"{v}: spark={a[v]!r} duckdb={b[v]!r}" for v in sample)
                )
    if problems:
        raise AssertionError("Spark and DuckDB features/gps disagree:\n  " + "\n  ".join(problems))
    return len(spark_rows)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def run_day(name: str, day: str) -> str:
    return shift_day(day, RUN_OFFSET.get(name, 0))


def window_days(name: str, day: str) -> dict[str, list[str]]:
    """The days of each raw source the group reads when run for its day."""
    return {source: window.days(run_day(name, day), run_day(name, day))
            for source, window in GROUPS[name].INPUTS.items()}


def write_lake(workdir: Path, vehicles: int, day: str, groups: list[str]) -> tuple[Path, dict, float]:
    """Day D and the earlier days the groups read, written to a landing zone, then hard-linked
    into `{lake}/raw/{source}/date=D/` (the raw lake has the landing schema; gps parquet is the
    raw gps). Returns lake, rows per day and source, seconds.

    The generator runs in a child process, so that the memory it leaves behind in the allocator
    is not counted as this process's while Spark and DuckDB are measured.
    """
    landing, lake = workdir / f"landing-{vehicles}", workdir / f"lake-{vehicles}"
    earlier = sorted({d for name in groups for days in window_days(name, day).values() for d in days if d < day})
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = {day: pool.submit(write_day, landing, day, vehicles=vehicles, progress=False).result()}
        for d in earlier:
            rows[d] = pool.submit(write_day, landing, d, vehicles=vehicles, ping_seconds=HISTORY_PING_SECONDS,
                                  progress=False).result()
    for d in rows:
        for source in SOURCES:
            target = partition_dir(lake, f"raw/{source}", d)
            target.mkdir(parents=True)
            for part in sorted((landing / source / d).glob("part-*.parquet")):
                try:
                    os.link(part, target / part.name)
                except OSError:
                    shutil.copy2(part, target / part.name)
    shutil.rmtree(landing)
    return lake, rows, time.perf_counter() - started


def summary(seconds: list[float]) -> dict:
    return {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "runs": [round(s, 3) for s in seconds],
    }


def bench_size(spark, con, memory: TreeMemory, workdir: Path, vehicles: int, day: str, args) -> dict:
    print(f"\n== {vehicles:,} vehicles: writing {day}", file=sys.stderr, flush=True)
    memory.reset()
    lake, rows, gen_seconds = write_lake(workdir, vehicles, day, args.groups)
    gen_peak = memory.peaks()
    print(f"   wrote {rows[day]} and {len(rows) - 1} earlier days in {gen_seconds:.1f} s", file=sys.stderr, flush=True)
    duck_out = workdir / f"duckdb-{vehicles}" / "features" / "gps"

    memory.reset()
    times: dict[str, list[float]] = {g: [] for g in args.groups}
    duck_times: list[float] = []
    first: dict[str, float] = {}
    stats: dict[str, dict] = {}
    checked = 0
    for repeat in range(args.warmup + args.repeats):
        counted = repeat >= args.warmup
        for name in args.groups:
            job = GROUPS[name]
            started = time.perf_counter()
            stats[name] = job.run(spark, str(lake), run_day(name, day), run_day(name, day))
            elapsed = time.perf_counter() - started
            if counted:
                times[name].append(elapsed)
            else:
                first.setdefault(name, elapsed)
            label = f"run {repeat + 1 - args.warmup}" if counted else f"warm-up {repeat + 1}"
            line = f"   {label}: spark {name} {elapsed:.2f} s"
            if name == "gps" and not args.no_duckdb:
                started = time.perf_counter()
                duck_rows = duckdb_gps_features(con, lake, day, duck_out)
                duck_elapsed = time.perf_counter() - started
                if counted:
                    duck_times.append(duck_elapsed)
                else:
                    first.setdefault("gps_duckdb", duck_elapsed)
                line += f", duckdb gps {duck_elapsed:.2f} s ({duck_rows} rows)"
                if not checked:  # correctness first: before any timing is trusted
                    checked = compare_gps(partition_dir(lake, gps_features.TABLE, day), duck_out / f"date={day}")
                    line += f", outputs agree on {checked} vehicles"
            print(line, file=sys.stderr, flush=True)
    run_peak = memory.peaks()
    if not args.no_duckdb and "gps" in args.groups:  # and once more on the last outputs
        compare_gps(partition_dir(lake, gps_features.TABLE, day), duck_out / f"date={day}")

    groups = {}
    for name in args.groups:
        input_rows = sum(rows[d][source] for source, days in window_days(name, day).items() for d in days)
        entry = {
            "input_rows": input_rows,
            "output_rows": sum(stats[name]["rows_per_day"].values()),
            "wall_seconds": summary(times[name]),
            "rows_per_second": input_rows / statistics.median(times[name]),
            "first_run_seconds": first.get(name),
        }
        if name == "gps" and not args.no_duckdb:
            entry["duckdb_wall_seconds"] = summary(duck_times)
            entry["duckdb_rows_per_second"] = input_rows / statistics.median(duck_times)
            ratios = [s / d for s, d in zip(times["gps"], duck_times, strict=True)]
            entry["spark_over_duckdb"] = {
                "median": statistics.median(ratios),
                "min": min(ratios),
                "max": max(ratios),
                "pairs": [round(r, 2) for r in ratios],
            }
            entry["duckdb_first_run_seconds"] = first.get("gps_duckdb")
            entry["outputs_agree_vehicles"] = checked
        groups[name] = entry
    if not args.keep:
        shutil.rmtree(lake, ignore_errors=True)
        shutil.rmtree(duck_out.parents[1], ignore_errors=True)
    return {
        "vehicles": vehicles,
        "source_rows": rows[day],
        "earlier_days": len(rows) - 1,
        "generate_seconds": gen_seconds,
        "generate_peak_rss_bytes": gen_peak,
        "peak_rss_bytes": run_peak,
        "groups": groups,
    }


def machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )
    java = subprocess.run(["java", "-version"], check=False, capture_output=True, text=True).stderr.splitlines()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_total_bytes": psutil.virtual_memory().total,
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "java": java[0] if java else "?",
        "spark": pyspark.__version__,
        "duckdb": duckdb.__version__,
    }


def gib(n: int) -> str:
    return f"{n / GIB:.2f}"


def print_report(result: dict) -> None:
    out = sys.stdout
    print(f"\nSpark session start-up (JVM + SparkContext, once): {result['spark_startup_seconds']:.2f} s", file=out)
    print(
        f"wall s: median of {result['args']['repeats']} runs (min-max) in the warm session; "
        "rows/s = input rows / median; Spark/DuckDB = median (min-max) of the pairwise ratios",
        file=out,
    )
    header = (
        f"{'vehicles':>9} {'group':<11} {'input rows':>11} {'output rows':>11} {'wall s (min-max)':>21} "
        f"{'rows/s':>10} {'Spark/DuckDB':>19}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for size in result["sizes"]:
        for name, g in size["groups"].items():
            w = g["wall_seconds"]
            ratio = ""
            if "spark_over_duckdb" in g:
                r = g["spark_over_duckdb"]
                ratio = f"{r['median']:.2f}x ({r['min']:.2f}-{r['max']:.2f})"
            print(
                f"{size['vehicles']:>9,} {name:<11} {g['input_rows']:>11,} {g['output_rows']:>11,} "
                f"{w['median']:>7.2f} ({w['min']:.2f}-{w['max']:.2f}) {g['rows_per_second']:>10,.0f} {ratio:>19}",
                file=out,
            )
            if "duckdb_wall_seconds" in g:
                d = g["duckdb_wall_seconds"]
                print(
                    f"{'':>9} {'gps duckdb':<11} {g['input_rows']:>11,} {g['outputs_agree_vehicles']:>11,} "
                    f"{d['median']:>7.2f} ({d['min']:.2f}-{d['max']:.2f}) {g['duckdb_rows_per_second']:>10,.0f}",
                    file=out,
                )
        p = size["peak_rss_bytes"]
        gps = size["groups"].get("gps", {})
        if gps.get("first_run_seconds") is not None:
            line = f"{'':>9} first (warm-up) gps run: Spark {gps['first_run_seconds']:.2f} s"
            if gps.get("duckdb_first_run_seconds") is not None:
                line += f", DuckDB {gps['duckdb_first_run_seconds']:.2f} s"
            print(line, file=out)
        print(
            f"{'':>9} peak RSS of the process tree: {gib(p['total'])} GiB "
            f"(alone: JVM {gib(p['jvm'])}, Python+DuckDB {gib(p['python'])}); "
            f"data generation {size['generate_seconds']:.1f} s",
            file=out,
        )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,40000", help="vehicle counts, comma separated")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per group and size")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per group and size first")
    parser.add_argument("--groups", default=",".join(GROUPS), help="feature groups to run")
    parser.add_argument("--day", default="2026-11-24", help="the synthetic day")
    parser.add_argument("--master", default="local[*]")
    parser.add_argument(
        "--driver-memory",
        default=SPARK_DEFAULTS["spark.driver.memory"],
        help="spark.driver.memory, the JVM heap (default: SPARK_DEFAULTS', %(default)s, which holds "
        "40,000 vehicles without spilling since shuffle.partitions is 16)",
    )
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra Spark setting over SPARK_DEFAULTS, for experiments (repeatable)",
    )
    parser.add_argument("--workdir", help="where the temporary lakes go (default: the system temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated lakes")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB reference")
    parser.add_argument("--json", help="write the results here (default: benchmarks/out/feature_groups-<time>.json)")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.groups = [g for g in args.groups.split(",") if g]
    if any("=" not in item for item in args.conf):
        parser.error("--conf takes KEY=VALUE")
    unknown = set(args.groups) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups {sorted(unknown)}; known: {list(GROUPS)}")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="meridian-bench-", dir=args.workdir))
    memory = TreeMemory()
    conf = {
        "spark.driver.memory": args.driver_memory,
        "spark.ui.showConsoleProgress": "false",
        **dict(item.split("=", 1) for item in args.conf),
    }
    result = {
        "started": datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "args": {k: v for k, v in vars(args).items()},
        "spark_conf": {**SPARK_DEFAULTS, **conf, "spark.master": args.master},
        "sizes": [],
    }
    print(json.dumps(result["machine"]), file=sys.stderr)
    started = time.perf_counter()
    spark = build_session(args.master, "meridian-bench", conf)
    result["spark_startup_seconds"] = time.perf_counter() - started
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark session up in {result['spark_startup_seconds']:.2f} s", file=sys.stderr, flush=True)
    con = duckdb.connect()
    result["duckdb_threads"] = con.execute("SELECT current_setting('threads')").fetchone()[0]
    total = time.perf_counter()
    try:
        for vehicles in args.sizes:
            result["sizes"].append(bench_size(spark, con, memory, workdir, vehicles, args.day, args))
    finally:
        spark.stop()
        con.close()
        memory.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result["total_seconds"] = time.perf_counter() - total + result["spark_startup_seconds"]
    print_report(result)
    out = Path(args.json) if args.json else ROOT / "benchmarks" / "out" / (
        f"feature_groups-{datetime.now():%Y%m%dT%H%M%S}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\ntotal {result['total_seconds']:.0f} s; results in {out}", file=sys.stdout)
    return result


if __name__ == "__main__":
    main()
