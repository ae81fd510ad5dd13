"""The lake: its resource, its tables, and the pandas/Arrow writer; Spark uses the same primitives."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import dagster as dg

from spark_jobs.layout import partition_dir
from spark_jobs.swap import publish_partition, staging_dir

class Lake(dg.ConfigurableResource):
    """The feature lake: Parquet in Hive-style `date=` folders on a local filesystem."""

    root: str

    @property
    def path(self) -> Path:
        return Path(self.root).resolve()


RAW_TABLES = {s: f"raw/{s}" for s in ("gps", "deliveries", "weather", "traffic", "customers")}


def write_partition(lake: str | os.PathLike, table: str, day: str, data: pa.Table) -> Path:
    """Write one day's data and swap it in atomically: a re-run replaces, never appends."""
    staged = staging_dir(lake, table)
    staged.mkdir()
    pq.write_table(data, staged / "part-00000.parquet", coerce_timestamps="us")
    target = partition_dir(lake, table, day)
    publish_partition(staged, target)
    return target


def written_metadata(lake: str | os.PathLike, table: str, rows_per_day: dict[str, int]) -> dict:
    """What the UI shows of a write: the partition's rows and location, or per day for a range."""
    if len(rows_per_day) == 1:
        ((day, rows),) = rows_per_day.items()
        return {"dagster/partition_row_count": rows, "dagster/uri": partition_dir(lake, table, day).resolve().as_uri()}
    return {"rows_per_day": dg.MetadataValue.json(rows_per_day), "dagster/uri": (Path(lake) / table).resolve().as_uri()}


def profile(lake: str | os.PathLike, table: str, days: list[str]) -> dict:
    """Rows and null fraction per column of what was written, for the UI's metadata."""
    data = pa.concat_tables(
        [pq.read_table(partition_dir(lake, table, d)) for d in days], promote_options="default"
    )
    rows = data.num_rows
    nulls = {name: (data.column(name).null_count / rows if rows else 0.0) for name in data.column_names}
    return {"rows": rows, "null_fraction": nulls}
