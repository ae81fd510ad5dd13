"""Raw GPS ingestion of one large day: the streamed ingestion against a whole-day pandas reference.

    python benchmarks/ingestion_memory.py [--vehicles 10000] [--repeats 2]

The synthetic vendor writes one day (a ping a minute over a 15 h shift, part files of 2,000
vehicles). Each measured run is a fresh process (`measure.measured_child`), its whole tree's RSS
sampled (DuckDB runs inside it). "streamed" is the asset's
own `ingest_day`; "whole-day pandas" is how ingestion worked before issue 15: every part
conformed, concatenated into one pandas frame, `drop_duplicates()`, written. The two alternate
(A B A B) and must land the same number of rows.
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
import pandas as pd, pyarrow as pa, pyarrow.parquet as pq
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.ingestion.assets import ingest_day
from meridian_assets.defs.ingestion.drops import read_file
from meridian_assets.defs.resources import LandingZone
from meridian_assets.lake import Lake, write_partition
mode, landing, lake, day = sys.argv[1:]
contract = SOURCES["gps"]
started = time.perf_counter()
if mode == "streamed":
    rows = ingest_day(contract, day, LandingZone(uri=landing), Lake(root=lake))["rows"]
else:
    parts = [t for p in sorted((Path(landing) / "gps" / day).glob("part-*")) for t in read_file(p, p.name, contract)]
    frame = pa.concat_tables(parts).to_pandas().drop_duplicates(ignore_index=True)
    rows = len(frame)
    write_partition(lake, "raw/gps", day, pa.Table.from_pandas(frame, schema=contract.arrow_schema, preserve_index=False))
print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started}))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from meridian_assets.synthetic import write_day

    results: dict[str, list[dict]] = {"whole-day pandas": [], "streamed": []}
    with tempfile.TemporaryDirectory() as scratch:
        landing = Path(scratch) / "landing"
        write_day(landing, DAY, vehicles=args.vehicles, seed=5, progress=False)
        size = sum(p.stat().st_size for p in (landing / "gps" / DAY).glob("part-*"))
        for _ in range(args.repeats):
            for mode in results:
                results[mode].append(measured_child(CHILD, mode, str(landing), str(Path(scratch) / "lake"), DAY))
    rows = {r["rows"] for runs in results.values() for r in runs}
    assert len(rows) == 1, f"the two ways landed different row counts: {rows}"
    print(f"machine: {platform.node()} {platform.machine()}, Python {platform.python_version()}, {date.today()}")
    print(f"data: {args.vehicles:,} vehicles, {rows.pop():,} pings after deduplication, {size / 1e6:.0f} MB of Parquet")
    print("| ingestion | wall s (median) | peak RSS MiB (max) |\n|---|---|---|")
    for mode, runs in results.items():
        print(f"| {mode} | {statistics.median(r['seconds'] for r in runs):.1f} | {max(r['peak_rss_bytes'] for r in runs) / 2**20:,.0f} |")


if __name__ == "__main__":
    main()
