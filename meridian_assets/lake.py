"""The lake's layout and its pandas/Arrow writers; Spark uses the same primitives."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from spark_jobs.common import partition_dir, publish_partition, staging_dir

RAW_TABLES = {s: f"raw/{s}" for s in ("gps", "deliveries", "weather", "traffic", "customers")}


def write_partition(lake: str | os.PathLike, table: str, day: str, data: pa.Table) -> Path:
    """Write one day's data and swap it in atomically: a re-run replaces, never appends."""
    staged = staging_dir(lake, table)
    staged.mkdir()
    pq.write_table(data, staged / "part-00000.parquet", coerce_timestamps="us")
    target = partition_dir(lake, table, day)
    publish_partition(staged, target)
    return target


def profile(lake: str | os.PathLike, table: str, days: list[str]) -> dict:
    """Rows and null fraction per column of what was written, for the UI's metadata."""
    data = pa.concat_tables(
        [pq.read_table(partition_dir(lake, table, d)) for d in days], promote_options="default"
    )
    rows = data.num_rows
    nulls = {name: (data.column(name).null_count / rows if rows else 0.0) for name in data.column_names}
    return {"rows": rows, "null_fraction": nulls}
