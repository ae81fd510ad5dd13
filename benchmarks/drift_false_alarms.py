"""How often the drift check cries wolf on good days, and whether it still sees a real shift.

    python benchmarks/drift_false_alarms.py [--sizes 60,200,1000] [--days 30] [--seed 5]

For each fleet size the synthetic vendor writes `--days` good days plus the 7 before them
(a ping every 15 minutes: GPS plays no part in the drift features), and ONE range run of the
real pipeline (raw ingestion, the Spark feature groups, the dbt ml_feature_table) builds the
lake. The `feature_drift` rule of ml_feature_table_checks (the very function the check runs)
then judges every day, as shipped, and as the old rule did (a fixed PSI limit of 0.1 on the
five numeric features against whatever earlier days exist, even one). Then, on a copy of each
of the last 10 days' partitions, two real shifts: planned distances x 1.5, and one region
missing; each must fail with ERROR. Prints a Markdown table for docs/CHECKS.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import dagster as dg
from meridian_assets import thresholds as t
from meridian_assets.definitions import ASSETS, defs
from meridian_assets.defs.ml_table.checks import DRIFT_FEATURES, _drift
from meridian_assets.lake import Lake
from meridian_assets.defs.resources import LandingZone, spark_resource
from meridian_assets.lake import write_partition
from meridian_assets.quality import Partition, psi
from meridian_assets.synthetic import write_drops
from spark_jobs.layout import days_between, shift_day
from spark_jobs.session import build_session

TABLE = "ml_feature_table"
SHIFTS = {
    "distance x 1.5": lambda f: f.assign(planned_distance_km=f["planned_distance_km"] * 1.5),
    "one region missing": lambda f: f[f["region"] != sorted(f["region"].unique())[0]],
}


def build_lake(root: Path, first: str, last: str, vehicles: int, seed: int) -> Path:
    write_drops(root / "landing", first, last, vehicles=vehicles, seed=seed, ping_seconds=900)
    data = dg.AssetSelection.groups("raw_ingestion", "features", "ml_ready").without_checks()
    result = dg.materialize(
        ASSETS, selection=data, instance=dg.DagsterInstance.ephemeral(),
        resources={**defs().resources, "landing": LandingZone(uri=str(root / "landing")),
                   "lake": Lake(root=str(root / "lake")), "pyspark": spark_resource("local[2]")},
        tags={"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last},
    )
    assert result.success
    return root / "lake"


def old_rule_alarm(p: Partition, days: int = 7) -> bool:
    """The rule before: PSI above 0.1 on any numeric feature against any earlier days at all."""
    history = p.history(days, DRIFT_FEATURES)
    if not history:
        return False
    reference = pd.concat(history.values())
    return any(psi(reference[c].to_numpy(float), p.frame[c].to_numpy(float)).psi > t.PSI_WARN
               for c in DRIFT_FEATURES)


def shifted_outcome(lake: Path, day: str, shift) -> tuple[bool, float]:
    """The rule on a copy of the lake's last 8 days whose day `day` is shifted."""
    with tempfile.TemporaryDirectory() as scratch:
        for d in days_between(shift_day(day, -7), day):
            shutil.copytree(lake / TABLE / f"date={d}", Path(scratch) / TABLE / f"date={d}")
        frame = pd.read_parquet(lake / TABLE / f"date={day}")
        write_partition(scratch, TABLE, day, pa.Table.from_pandas(shift(frame), preserve_index=False))
        outcome = _drift(Partition(Lake(root=str(scratch)), TABLE, day))
        return (not outcome.passed and outcome.severity == dg.AssetCheckSeverity.ERROR), outcome.value


def measure(vehicles: int, days: int, seed: int, spark_root: Path) -> dict:
    first = date(2026, 3, 1).isoformat()
    judged = days_between(shift_day(first, 7), shift_day(first, 7 + days - 1))
    lake = build_lake(spark_root / f"v{vehicles}", first, judged[-1], vehicles, seed)
    rows, alarms, old_alarms, first_days_old, one_day_old, headroom = [], 0, 0, 0, 0, []
    for day in days_between(first, judged[-1]):
        p = Partition(Lake(root=str(lake)), TABLE, day)
        outcome = _drift(p)
        if day in judged:
            rows.append(len(p.frame))
            alarms += not outcome.passed
            headroom.append(outcome.value / outcome.threshold)
            old_alarms += old_rule_alarm(p)
            one_day_old += old_rule_alarm(p, days=1)  # as in issue 13: against one earlier day
        else:  # 1-6 earlier days: the new rule does not judge yet, the old one did
            first_days_old += old_rule_alarm(p)
    caught = {name: [shifted_outcome(lake, d, s) for d in judged[-10:]] for name, s in SHIFTS.items()}
    return {
        "vehicles": vehicles, "rows": int(np.median(rows)), "days": len(judged), "alarms": alarms,
        "old_alarms": old_alarms, "first_days_old": first_days_old, "one_day_old": one_day_old,
        "headroom": max(headroom),
        "caught": {name: (sum(ok for ok, _ in r), len(r), min(v for _, v in r)) for name, r in caught.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="60,200,1000")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    spark = build_session("local[2]", "drift-benchmark")
    results = []
    try:
        with tempfile.TemporaryDirectory() as root:
            for size in map(int, args.sizes.split(",")):
                results.append(measure(size, args.days, args.seed, Path(root)))
                print(results[-1], file=sys.stderr, flush=True)
    finally:
        spark.stop()
    print("| vehicles | rows per day (median) | good days judged | false alarms | largest PSI / its WARN limit | "
          "old rule: false alarms (same days / days 2-7 / vs one earlier day) | "
          + " | ".join(f"{name}: caught (lowest PSI)" for name in SHIFTS) + " |")
    print("|---" * (6 + len(SHIFTS)) + "|")
    for r in results:
        shifts = " | ".join(f"{c}/{n} ({low:.2f})" for c, n, low in r["caught"].values())
        print(f"| {r['vehicles']:,} | {r['rows']:,} | {r['days']} | {r['alarms']} | {r['headroom']:.2f} | "
              f"{r['old_alarms']} / {r['first_days_old']} / {r['one_day_old']} | {shifts} |")


if __name__ == "__main__":
    main()
