"""The lake on S3: versioned folders and a pointer written last.

S3 has no rename, so a folder (a table's day, a model version) is never replaced in place:
each publication uploads a new version under `{folder}/v={version}/`, then one PUT of
`{folder}/_CURRENT` names it. A single PUT is atomic, so a reader resolves the pointer and sees
the previous version whole or the new one whole; a writer killed before the PUT leaves only an
unreferenced prefix, removed by the next publication. Steps work on a local working copy; a
folder there carries `_VERSION`, the version it holds, so an unchanged day is not fetched twice.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spark_jobs.swap import publish_partition

POINTER = "_CURRENT"
MARKER = "_VERSION"  # Spark, DuckDB's *.parquet and pyarrow datasets all skip it


def client(endpoint_url: str | None, region_name: str) -> Any:
    """dagster-aws's S3 client (with its retries); keys from AWS_* or the machine's role. Imported
    here, not at load: boto3 costs every code-location load 0.7 s and only s3:// locations use it."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(endpoint_url=endpoint_url, region_name=region_name).get_client()


@dataclass(frozen=True)
class Bucket:
    """`s3://bucket/prefix` through a boto3 client."""

    client: Any
    name: str
    prefix: str

    def key(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)


def _new_version() -> str:
    """Sortable by time, unique across writers."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"


def current(bucket: Bucket, folder: str) -> str | None:
    body = bucket.get(bucket.key(folder, POINTER))
    return body.decode() if body is not None else None


def publish(bucket: Bucket, folder: str, local: Path) -> str:
    """Upload `local` as a new version of `folder`, then point at it; returns the version."""
    version = _new_version()
    for path in sorted(local.rglob("*")):
        if path.is_file() and path.name != MARKER and not path.name.startswith("."):
            key = bucket.key(folder, f"v={version}", path.relative_to(local).as_posix())
            bucket.client.upload_file(str(path), bucket.name, key)
    previous = current(bucket, folder)
    bucket.put(bucket.key(folder, POINTER), version.encode())  # the commit
    (local / MARKER).write_text(version)
    _prune(bucket, folder, keep={version, previous})
    return version


def _prune(bucket: Bucket, folder: str, keep: set[str | None]) -> None:
    """Remove the versions before the previous one (a reader may still be fetching that) and
    what killed writers left behind."""
    versions_prefix = bucket.key(folder, "v=")
    stale = [k for k in bucket.keys(versions_prefix)
             if k[len(versions_prefix):].split("/", 1)[0] not in keep]
    for start in range(0, len(stale), 1000):
        bucket.client.delete_objects(
            Bucket=bucket.name, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]]}
        )


def fetch(bucket: Bucket, folder: str, local: Path) -> bool:
    """Make `local` the current version of `folder`; False (and no `local`) when it has none."""
    version = current(bucket, folder)
    if version is None:
        shutil.rmtree(local, ignore_errors=True)
        return False
    marker = local / MARKER
    if marker.is_file() and marker.read_text() == version:
        return True
    staged = local.parent / f".fetch-{uuid.uuid4().hex}"
    prefix = bucket.key(folder, f"v={version}") + "/"
    try:
        for key in bucket.keys(prefix):
            target = staged / key[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            bucket.client.download_file(bucket.name, key, str(target))
        staged.mkdir(parents=True, exist_ok=True)  # a version may hold no file at all
        (staged / MARKER).write_text(version)
        publish_partition(staged, local)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return True


def published(bucket: Bucket, folder: str) -> list[str]:
    """The folders directly under `folder` that have a current version (a table's `date=`
    folders); a first publication killed before its pointer does not count."""
    prefix = bucket.key(folder) + "/"
    return sorted(key[len(prefix):].split("/", 1)[0] for key in bucket.keys(prefix)
                  if key.endswith(f"/{POINTER}") and key[len(prefix):].count("/") == 1)


def fetch_file(bucket: Bucket, name: str, local: Path) -> bool:
    """Make `local` the object `name` (one atomic PUT writes it); False (and no file) without one."""
    body = bucket.get(bucket.key(name))
    if body is None:
        local.unlink(missing_ok=True)
        return False
    local.parent.mkdir(parents=True, exist_ok=True)
    staged = local.with_name(f".fetch-{uuid.uuid4().hex}")
    staged.write_bytes(body)
    os.replace(staged, local)
    return True
