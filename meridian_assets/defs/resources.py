"""Every outside thing the assets touch, configured from the environment.

Asset code never reads os.environ: it receives these resources. Each setting names its
environment variable; where it is unset the embedded default (local folders, Spark local)
applies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

import pydantic

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_k8s import k8s_job_executor
from dagster_pyspark import LazyPySparkResource

from meridian_assets.dbt_project import DBT_EXECUTABLE, meridian_dbt_project
from meridian_assets import lake_s3
from meridian_assets.lake import Lake, checked_location

from spark_jobs.session import SPARK_DEFAULTS

DROP_PATTERNS = (".parquet", ".csv", ".csv.gz")
LANDING_DEFAULT = "./data/landing"
SENTINEL = "_SUCCESS"


@dataclass(frozen=True)
class DropFile:
    name: str  # full path or s3:// URI, for error messages
    size: int


@dataclass(frozen=True)
class Sentinel:
    version: str  # changes with each delivery of the day
    written: float  # POSIX seconds


@dataclass(frozen=True)
class Drop:
    location: str
    complete: bool  # the _SUCCESS sentinel exists
    files: tuple[DropFile, ...]


class LandingZone(dg.ConfigurableResource):
    """Where vendors deliver drops (shared/CONTRACT.md): a local folder or s3://bucket/prefix."""

    uri: str
    endpoint_url: str | None = None  # S3 only: a server other than AWS; keys come from AWS_*
    region_name: str = "us-east-1"

    @pydantic.field_validator("uri")
    @classmethod
    def _location(cls, value: str) -> str:
        return checked_location(value)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    @cached_property
    def _s3(self):
        return lake_s3.client(self.endpoint_url, self.region_name)

    def _bucket_prefix(self) -> tuple[str, str]:
        parsed = urlparse(self.uri)
        return parsed.netloc, parsed.path.strip("/")

    def drop(self, source: str, day: str) -> Drop:
        """The files of one day's drop and whether it is complete."""
        if self.is_s3:
            bucket, prefix = self._bucket_prefix()
            key_prefix = "/".join(p for p in (prefix, source, day) if p) + "/"
            paginator = self._s3.get_paginator("list_objects_v2")
            objects = [
                obj for page in paginator.paginate(Bucket=bucket, Prefix=key_prefix)
                for obj in page.get("Contents", [])
            ]
            names = {o["Key"].rsplit("/", 1)[-1]: o for o in objects}
            files = [
                DropFile(f"s3://{bucket}/{o['Key']}", o["Size"])
                for name, o in sorted(names.items()) if _is_data_file(name)
            ]
            return Drop(f"s3://{bucket}/{key_prefix}", SENTINEL in names, tuple(files))
        folder = Path(self.uri).resolve() / source / day
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
        files = [DropFile(str(p), p.stat().st_size) for p in entries if _is_data_file(p.name)]
        return Drop(str(folder), (folder / SENTINEL).exists(), tuple(files))

    def sentinels(self, source: str) -> dict[str, Sentinel]:
        """Each folder of `source` with a _SUCCESS, and that sentinel's version: a re-delivery
        writes a new one. Folder names are as found: the caller validates them."""
        if self.is_s3:
            bucket, prefix = self._bucket_prefix()
            source_prefix = "/".join(p for p in (prefix, source) if p) + "/"
            paginator = self._s3.get_paginator("list_objects_v2")
            found = {}
            for page in paginator.paginate(Bucket=bucket, Prefix=source_prefix):
                for obj in page.get("Contents", []):
                    folder, _, name = obj["Key"].removeprefix(source_prefix).rpartition("/")
                    if name == SENTINEL and folder and "/" not in folder:
                        written = obj["LastModified"]
                        found[folder] = Sentinel(f"{written.isoformat()}:{obj['ETag']}", written.timestamp())
            return found
        root = Path(self.uri).resolve() / source
        found = {}
        for path in sorted(root.glob(f"*/{SENTINEL}")) if root.is_dir() else []:
            stat = path.stat()
            found[path.parent.name] = Sentinel(f"{stat.st_mtime_ns}:{stat.st_ino}", stat.st_mtime)
        return found

    @contextmanager
    def local_copy(self, file: DropFile, scratch: Path) -> Iterator[Path]:
        """The file on this machine while the block runs: itself, or an S3 object downloaded
        (streamed to disk, never whole in memory) into `scratch` and removed after."""
        if not file.name.startswith("s3://"):
            yield Path(file.name)
            return
        parsed = urlparse(file.name)
        copy = scratch / parsed.path.rsplit("/", 1)[-1]
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            self._s3.download_file(parsed.netloc, parsed.path.lstrip("/"), str(copy))
            yield copy
        finally:
            copy.unlink(missing_ok=True)


def _is_data_file(name: str) -> bool:
    return name.startswith("part-") and name.endswith(DROP_PATTERNS)


def _env(name: str, default: str | None) -> str | dg.EnvVar | None:
    """The variable when it is set (the UI then shows its name), else the embedded default."""
    return dg.EnvVar(name) if name in os.environ else default


def sensor_interval(seconds: int) -> int:
    """A sensor's minimum interval between ticks: `seconds`, or MERIDIAN_SENSOR_INTERVAL_SECONDS for
    every sensor when set (the tests' daemons tick every few seconds)."""
    return int(os.environ.get("MERIDIAN_SENSOR_INTERVAL_SECONDS", seconds))


def git_remote() -> tuple[str, str] | None:
    """MERIDIAN_GIT_URL (a repository's web address) and MERIDIAN_GIT_BRANCH (default main), if set:
    code references in the UI then open the source there rather than on this machine."""
    url = os.environ.get("MERIDIAN_GIT_URL")
    return (url, os.environ.get("MERIDIAN_GIT_BRANCH", "main")) if url else None


def spark_resource(master: str) -> LazyPySparkResource:
    """Lazy: runs that touch no Spark asset start no JVM."""
    return LazyPySparkResource(spark_config={**SPARK_DEFAULTS, "spark.master": master})


EXECUTORS = {"in_process": dg.in_process_executor, "k8s": k8s_job_executor}


def executor() -> dg.ExecutorDefinition:
    """MERIDIAN_EXECUTOR (default in_process): k8s runs each step in a Kubernetes Job of its own
    (dagster-k8s), sized by the step's `dagster-k8s/config` tag. An unknown name fails the load:
    a typo must not quietly run every Spark step inside the run's own pod."""
    name = os.environ.get("MERIDIAN_EXECUTOR", "in_process")
    if name not in EXECUTORS:
        raise ValueError(f"MERIDIAN_EXECUTOR={name!r}: expected one of {sorted(EXECUTORS)}")
    return EXECUTORS[name]


def landing_uri() -> str:
    """Where the landing zone is, for the lineage's landing drops (the resource reads the same)."""
    return os.environ.get("MERIDIAN_LANDING", LANDING_DEFAULT)


def from_environment() -> dict:
    """The resources of the code location, read when definitions load (never at import)."""
    return {
        "landing": LandingZone(
            uri=_env("MERIDIAN_LANDING", LANDING_DEFAULT),
            endpoint_url=_env("MERIDIAN_S3_ENDPOINT_URL", None),
            region_name=_env("AWS_REGION", "us-east-1"),
        ),
        "lake": Lake(
            root=_env("MERIDIAN_LAKE", "./data/lake"),
            working_copy=_env("MERIDIAN_LAKE_WORKING_COPY", None),
            endpoint_url=_env("MERIDIAN_S3_ENDPOINT_URL", None),
            region_name=_env("AWS_REGION", "us-east-1"),
        ),
        # A value, not an EnvVar: Dagster resolves EnvVars in a resource's own fields only, and
        # inside spark_config one became the setting `spark.master.env`, leaving Spark on local[*].
        "pyspark": spark_resource(os.environ.get("MERIDIAN_SPARK_MASTER", "local[*]")),
        "dbt": DbtCliResource(project_dir=meridian_dbt_project, dbt_executable=DBT_EXECUTABLE),
    }
