"""The lake: its resource, its tables, and the pandas/Arrow writer; Spark uses the same primitives."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
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

# DuckDB spills what does not fit here, so a 40,000-vehicle day is deduplicated and checked
# within it whatever the fleet (docs/BENCHMARKS.md).
DUCKDB_MEMORY = "1GB"


def duckdb_connection(spill: str | os.PathLike | None = None) -> duckdb.DuckDBPyConnection:
    """DuckDB, the bounded-memory engine of the Python steps over the lake (ingestion, checks)."""
    db = duckdb.connect(config={"memory_limit": DUCKDB_MEMORY, "preserve_insertion_order": False,
                                "temp_directory": str(spill or tempfile.gettempdir())})
    db.execute("SET enable_progress_bar = false")  # it writes to stdout: into the run's logs
    return db


def parquet(folder: str | os.PathLike, **options: bool) -> str:
    """The SQL source of every Parquet file of a partition folder (DuckDB's read_parquet options)."""
    path = str(Path(folder) / "*.parquet").replace("'", "''")
    return f"read_parquet('{path}'{''.join(f', {k}={str(v).lower()}' for k, v in options.items())})"


@contextmanager
def staged_partition(lake: str | os.PathLike, table: str, day: str) -> Iterator[Path]:
    """A hidden folder to write one day into; when the block ends without error it replaces the
    partition in one rename (a re-run replaces, never appends), otherwise it is removed."""
    staged = staging_dir(lake, table)
    staged.mkdir()
    try:
        yield staged
        publish_partition(staged, partition_dir(lake, table, day))
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # after a swap it holds the previous partition


@contextmanager
def scratch_dir(lake: str | os.PathLike, table: str) -> Iterator[Path]:
    """A hidden working folder beside the table (same filesystem, skipped by readers), removed after."""
    scratch = staging_dir(lake, table)
    scratch.mkdir()
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_partition(lake: str | os.PathLike, table: str, day: str, data: pa.Table) -> Path:
    """Write one day's data and swap it in atomically."""
    with staged_partition(lake, table, day) as staged:
        pq.write_table(data, staged / "part-00000.parquet", coerce_timestamps="us")
    return partition_dir(lake, table, day)


def written_metadata(lake: str | os.PathLike, table: str, rows_per_day: dict[str, int]) -> dict:
    """What the UI shows of a write: the partition's rows and location, or per day for a range."""
    if len(rows_per_day) == 1:
        ((day, rows),) = rows_per_day.items()
        return {"dagster/partition_row_count": rows, "dagster/uri": partition_dir(lake, table, day).resolve().as_uri()}
    return {"rows_per_day": dg.MetadataValue.json(rows_per_day), "dagster/uri": (Path(lake) / table).resolve().as_uri()}


def profile(lake: str | os.PathLike, table: str, days: list[str]) -> dict:
    """Rows, null fraction per column and Arrow schema of what was written, for the UI's metadata."""
    data = pa.concat_tables(
        [pq.read_table(partition_dir(lake, table, d)) for d in days], promote_options="default"
    )
    rows = data.num_rows
    nulls = {name: (data.column(name).null_count / rows if rows else 0.0) for name in data.column_names}
    return {"rows": rows, "null_fraction": nulls, "schema": data.schema}
