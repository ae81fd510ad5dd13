"""The lake on S3 (MERIDIAN_LAKE=s3://...), against a real S3 API server: a day is replaced
whole, a writer killed mid-upload leaves the previous day readable, the model store's pointer
moves in one PUT, and every reader resolves the current version rather than trusting its copy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from meridian_assets import lake_s3
from meridian_assets.defs.ml import store
from meridian_assets.lake import Lake, write_partition
from meridian_assets_tests.s3 import ENVIRONMENT, client

TABLE, DAY = "raw/gps", "2026-11-03"
BUCKET = "meridian-lake"


@pytest.fixture()
def lake(s3_endpoint, tmp_path, monkeypatch, request):
    """An empty prefix of its own in the bucket; each Lake made by `make` has its own working copy."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    s3 = client(s3_endpoint)
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    root = f"s3://{BUCKET}/{request.node.name}"
    copies = iter(range(100))

    def make() -> Lake:
        return Lake(root=root, working_copy=str(tmp_path / f"copy-{next(copies)}"), endpoint_url=s3_endpoint)

    return make, s3


def _day(version: int, files: int = 1) -> list[pa.Table]:
    return [pa.table({"vehicle_id": [f"v{version}-{f}"], "speed_kph": [float(version)]}) for f in range(files)]


def _write(lake: Lake, parts: list[pa.Table]) -> None:
    """A day of `parts` files in the working copy, then published."""
    with_first = write_partition(lake.path, TABLE, DAY, parts[0])
    for i, part in enumerate(parts[1:], start=1):
        pq.write_table(part, with_first / f"part-{i:05d}.parquet")
    lake.publish(TABLE, [DAY])


def _read(lake: Lake) -> list[str]:
    return sorted(pq.read_table(lake.partition(TABLE, DAY)).column("vehicle_id").to_pylist())


def _versions(s3, lake: Lake) -> set[str]:
    prefix = lake._bucket.key(TABLE, f"date={DAY}", "v=")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"][len(prefix):].split("/")[0] for page in pages for o in page.get("Contents", [])}


def test_a_day_is_replaced_whole_and_readers_follow_the_pointer(lake):
    make, s3 = lake
    writer, reader = make(), make()
    assert not reader.partition(TABLE, DAY).exists(), "an empty lake has no day"
    assert not reader.has_partition_before(TABLE, "2026-11-04")

    _write(writer, _day(1))
    assert _read(reader) == ["v1-0"]
    assert reader.has_partition_before(TABLE, "2026-11-04") and not reader.has_partition_before(TABLE, DAY)
    _write(writer, _day(2, files=3))
    assert _read(reader) == ["v2-0", "v2-1", "v2-2"], "the reader's copy of version 1 is not trusted"
    first, second = sorted(_versions(s3, writer))
    _write(writer, _day(3))
    assert _read(reader) == ["v3-0"]
    # The previous version stays for readers still fetching it; older ones are removed.
    assert _versions(s3, writer) == {second, lake_s3.current(writer._bucket, f"{TABLE}/date={DAY}")}
    assert first not in _versions(s3, writer)


def test_a_writer_killed_mid_upload_leaves_the_previous_day_readable(lake, tmp_path):
    make, s3 = lake
    _write(make(), _day(1, files=2))
    before = _versions(s3, make())
    writer = make()
    write_partition(writer.path, TABLE, DAY, _day(2)[0])
    for i in range(1, 400):
        pq.write_table(_day(2)[0], writer.path / TABLE / f"date={DAY}" / f"part-{i:05d}.parquet")
    # The same publication in a process of its own, killed as soon as its first file is up.
    script = textwrap.dedent(f"""
        from meridian_assets.lake import Lake
        Lake(root={writer.root!r}, working_copy={writer.working_copy!r},
             endpoint_url={writer.endpoint_url!r}).publish({TABLE!r}, [{DAY!r}])
    """)
    process = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not _versions(s3, writer) - before:
            assert process.poll() is None, "the writer ended before it was killed"
            assert time.monotonic() < deadline, "the writer uploaded nothing"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    (partial,) = _versions(s3, writer) - before
    prefix = writer._bucket.key(TABLE, f"date={DAY}", f"v={partial}") + "/"
    assert 0 < len(writer._bucket.keys(prefix)) < 400, "killed mid-upload"

    assert _read(make()) == ["v1-0", "v1-1"], "a new reader sees the previous day whole"
    _write(make(), _day(3))
    assert _read(make()) == ["v3-0"]
    assert partial not in _versions(s3, writer), "the next publication removes what the killed one left"


def test_the_model_store_on_s3_moves_one_pointer(lake):
    make, _ = lake
    trainer, deployer, reader = make(), make(), make()
    info = {"trained_on": {"first": "2026-11-01", "last": "2026-11-02"}, "holdout": DAY,
            "metrics": {"mae": 9.0, "baseline_mae": 10.0}}
    for version in ("v1", "v2"):
        store.save_version(trainer, version, {"model": version}, info)
    assert store.deployed(reader) is None
    store.promote(deployer, "v1")
    store.promote(deployer, "v2")
    assert store.deployed(reader)["version"] == "v2"
    assert store.load_model(reader, "v2") == {"model": "v2"}
    store.rollback(reader)
    assert store.deployed(deployer)["version"] == "v1", "a pointer is read from S3, not from a stale copy"
    with pytest.raises(OSError):  # from another machine too
        store.save_version(make(), "v1", {"model": "other"}, info)
    assert store.load_model(make(), "v1") == {"model": "v1"}


def test_a_day_deleted_from_the_lake_leaves_the_working_copy(lake):
    make, s3 = lake
    writer, reader = make(), make()
    _write(writer, _day(1))
    assert _read(reader) == ["v1-0"]
    pointer = writer._bucket.key(TABLE, f"date={DAY}", lake_s3.POINTER)
    s3.delete_object(Bucket=BUCKET, Key=pointer)
    assert not reader.partition(TABLE, DAY).exists(), "a copy of a day the lake no longer has is not read"


def test_a_day_the_working_copy_holds_at_the_current_version_is_not_fetched_again(lake):
    """DEPLOYMENT.md: `_VERSION` says which version the copy holds; only a new one is downloaded."""
    make, _ = lake
    writer, reader = make(), make()
    _write(writer, _day(1, files=2))

    def files() -> dict[str, tuple[int, int]]:
        folder = reader.partition(TABLE, DAY)
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}

    fetched = files()
    assert lake_s3.MARKER in fetched
    assert files() == fetched, "read again at the same version: the same files, not downloaded anew"
    _write(writer, _day(2))
    assert _read(reader) == ["v2-0"], "a new version is fetched"
