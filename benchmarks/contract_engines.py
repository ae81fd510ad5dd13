"""The raw GPS contract on one large day: pandera over a pandas frame (how the check ran before
issue 15) against the same contract compiled to SQL in DuckDB (how it runs now).

    python benchmarks/contract_engines.py [--vehicles 40000] [--repeats 2]

The synthetic vendor writes one GPS day, `ingest_day` puts it in a temporary lake, and each way
then validates that partition in a fresh process (alternating, A B A B), measured by its wall
time and the peak RSS of its process. Both must find the day valid and count the same rows.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from measure import measured_child  # noqa: E402

DAY = "2026-03-02"
CHILD = r'''
import json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path.cwd().parent))
from meridian_assets.contracts import SOURCES
from meridian_assets.quality import Partition, contract_failures
way, lake = sys.argv[1:]
contract, started = SOURCES["gps"], time.perf_counter()
partition = Partition(Lake(root=str(lake)), "raw/gps", "2026-03-02")
if way == "pandera (pandas)":
    frame = partition.frame
    contract.pandera_schema.validate(frame, lazy=True)
    rows, failing = len(frame), {}
else:
    rows, failing, _ = contract_failures(partition, contract)
print(json.dumps({"rows": rows, "failing": len(failing), "seconds": time.perf_counter() - started}))
'''
WAYS = ("pandera (pandas)", "SQL (DuckDB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from meridian_assets.contracts import SOURCES
    from meridian_assets.defs.ingestion.assets import ingest_day
    from meridian_assets.defs.resources import LandingZone
    from meridian_assets.lake import Lake
    from meridian_assets.synthetic import write_day

    results: dict[str, list[dict]] = {way: [] for way in WAYS}
    with tempfile.TemporaryDirectory() as scratch:
        landing, lake = Path(scratch) / "landing", Path(scratch) / "lake"
        write_day(landing, DAY, vehicles=args.vehicles, seed=5, progress=False)
        ingest_day(SOURCES["gps"], DAY, LandingZone(uri=str(landing)), Lake(root=str(lake)))
        for _ in range(args.repeats):
            for way in WAYS:
                results[way].append(measured_child(CHILD, way, str(lake)))
    outcomes = {(r["rows"], r["failing"]) for runs in results.values() for r in runs}
    assert len(outcomes) == 1 and outcomes.pop()[1] == 0, f"the two ways disagree: {results}"
    rows = results[WAYS[0]][0]["rows"]
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}, {date.today()}")
    print(f"data: {args.vehicles:,} vehicles, {rows:,} pings in the partition; both ways: valid")
    print("| contract check | wall s (median) | peak RSS MiB (max) |\n|---|---|---|")
    for way, runs in results.items():
        print(f"| {way} | {statistics.median(r['seconds'] for r in runs):.1f} "
              f"| {max(r['peak_rss_bytes'] for r in runs) / 2**20:,.0f} |")


if __name__ == "__main__":
    main()
