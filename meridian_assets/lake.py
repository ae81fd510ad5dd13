"""The lake: its resource, its tables, and the pandas/Arrow writer; Spark uses the same primitives."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import numpy as np
import pandas as pd
import pydantic
import pyarrow as pa
import pyarrow.parquet as pq

import dagster as dg
from meridian_assets import lake_s3

from spark_jobs.layout import has_partition_before, partition_dir
from spark_jobs.swap import publish_partition, staging_dir


# What dbt and DuckDB would read as code in a path pasted into SQL or Jinja.
UNSAFE_IN_SQL = re.compile(r"['\"`\\{}%;\x00-\x1f]")
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def checked_location(value: str) -> str:
    """A lake or landing zone as configured (MERIDIAN_LAKE, MERIDIAN_LANDING...): a local folder
    or s3://bucket/prefix, refused before it becomes a path, a key or SQL."""
    if UNSAFE_IN_SQL.search(value):
        raise ValueError(f"{value!r}: a quote, brace or control character (or a backslash, % or ;) is not allowed "
                         "in a location: SQL and Jinja would read it as code")
    if "://" not in value:
        return value
    parsed = urlparse(value)
    if parsed.scheme != "s3":
        raise ValueError(f"{value!r}: a location is a local folder or s3://bucket/prefix, not {parsed.scheme}://")
    if not BUCKET.fullmatch(parsed.netloc):
        raise ValueError(f"{value!r}: {parsed.netloc!r} is not an S3 bucket name")
    if any(part in {".", ".."} for part in parsed.path.split("/")):
        raise ValueError(f"{value!r}: '.' and '..' are not allowed in an S3 prefix")
    return value


class Lake(dg.ConfigurableResource):
    """The feature lake: Parquet in Hive-style `date=` folders, in a local folder or on S3.

    On S3 (`root` = s3://bucket/prefix) the steps read and write a local working copy: `read`
    brings the current version of the days a step reads, `publish` makes the days it wrote the
    current ones (lake_s3.py). In a local lake both are no-ops and the copy is the lake itself.
    """

    root: str
    working_copy: str | None = None  # S3 only: default a folder per lake in the temp directory
    endpoint_url: str | None = None  # S3 only: a server other than AWS; keys come from AWS_*
    region_name: str = "us-east-1"

    @pydantic.field_validator("root", "working_copy")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        return value if value is None else checked_location(value)

    @property
    def path(self) -> Path:
        """Where steps open the lake's files: the lake, or its working copy."""
        if not self.is_s3:
            return Path(self.root).resolve()
        if self.working_copy:
            return Path(self.working_copy).resolve()
        return Path(tempfile.gettempdir()) / "meridian-lake" / hashlib.sha1(self.root.encode()).hexdigest()[:12]

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    @cached_property
    def _bucket(self) -> lake_s3.Bucket:
        parsed = urlparse(self.root)
        return lake_s3.Bucket(lake_s3.client(self.endpoint_url, self.region_name), parsed.netloc,
                              parsed.path.strip("/"))

    def read(self, table: str, days: Iterable[str]) -> Path:
        """The root under which `partition_dir(root, table, day)` is the current version of each of
        `days` that exists, and absent for the others."""
        for day in days:
            self.read_folder(_folder(table, day))
        return self.path

    def partition(self, table: str, day: str) -> Path:
        """One day's folder, current (it may not exist)."""
        return partition_dir(self.read(table, [day]), table, day)

    def publish(self, table: str, days: Iterable[str]) -> None:
        """Make the working copy's partitions of `days` the lake's, each atomically."""
        for day in days:
            self.publish_folder(_folder(table, day))

    def has_partition_before(self, table: str, day: str) -> bool:
        """Whether `table` has any partition before `day` (see spark_jobs.layout)."""
        if self.is_s3:
            return any(name < f"date={day}" for name in lake_s3.published(self._bucket, table))
        return has_partition_before(self.path, table, day)

    def uri(self, folder: str) -> str:
        """Where `folder` is kept, as people open it."""
        if self.is_s3:
            return f"s3://{self._bucket.name}/{self._bucket.key(folder)}"
        return (self.path / folder).as_uri()

    def read_folder(self, folder: str) -> Path:
        """`path / folder` as published: a table's day, a model version."""
        if self.is_s3:
            lake_s3.fetch(self._bucket, folder, self.path / folder)
        return self.path / folder

    def publish_folder(self, folder: str) -> None:
        if self.is_s3:
            lake_s3.publish(self._bucket, folder, self.path / folder)

    def read_file(self, name: str) -> Path:
        """`path / name` as the lake has it now (a pointer such as the deployed model's)."""
        if self.is_s3:
            lake_s3.fetch_file(self._bucket, name, self.path / name)
        return self.path / name

    def publish_file(self, name: str) -> None:
        """One PUT: readers see the previous content or this one."""
        if self.is_s3:
            self._bucket.put(self._bucket.key(name), (self.path / name).read_bytes())


def _folder(table: str, day: str) -> str:
    return partition_dir("", table, day).as_posix()


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


CONTENT_VERSIONS = "content_version_per_day"  # materialization metadata: each day's content_version


def content_version(data: pa.Table) -> str:
    """A day's data version: the same rows give the same version in any order and whatever the
    last bits of a float sum (rounded to 1e-6), so only a real change of the data changes it."""
    frame = data.select(sorted(data.column_names)).to_pandas()
    floats = frame.select_dtypes("floating").columns
    frame[floats] = frame[floats].round(6)
    rows = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return hashlib.sha256(",".join(frame.columns).encode() + rows.tobytes()).hexdigest()[:16]


def written_metadata(lake: Lake, table: str, rows_per_day: dict[str, int]) -> dict:
    """What the UI shows of a write: the partition's rows and location, or per day for a range."""
    if len(rows_per_day) == 1:
        ((day, rows),) = rows_per_day.items()
        return {"dagster/partition_row_count": rows, "dagster/uri": lake.uri(_folder(table, day))}
    return {"rows_per_day": dg.MetadataValue.json(rows_per_day), "dagster/uri": lake.uri(table)}


def profile(lake: str | os.PathLike, table: str, days: list[str]) -> dict:
    """Rows, null fraction per column and Arrow schema of what was written, for the UI's metadata."""
    data = pa.concat_tables(
        [pq.read_table(partition_dir(lake, table, d)) for d in days], promote_options="default"
    )
    rows = data.num_rows
    nulls = {name: (data.column(name).null_count / rows if rows else 0.0) for name in data.column_names}
    return {"rows": rows, "null_fraction": nulls, "schema": data.schema}
