"""An S3 landing zone, through dagster-aws, against a real S3 API server on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import dagster as dg
from meridian_assets.defs.automation.landing import landing_sensor
from meridian_assets.defs.ingestion.assets import raw_assets
from meridian_assets.lake import Lake
from meridian_assets.defs.resources import LandingZone
from meridian_assets.synthetic import write_day
from meridian_assets_tests.s3 import ENVIRONMENT
from meridian_assets_tests.s3 import client as s3_client

DAY = "2026-11-01"


def _upload(client, local: Path, bucket: str, prefix: str, *, sentinel: bool = True) -> None:
    for source_dir in sorted(local.iterdir()):
        folder = source_dir / DAY
        for path in sorted(folder.glob("part-*")):
            client.upload_file(str(path), bucket, f"{prefix}/{source_dir.name}/{DAY}/{path.name}")
        if sentinel:
            client.put_object(Bucket=bucket, Key=f"{prefix}/{source_dir.name}/{DAY}/_SUCCESS", Body=b"")


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    """Keys as production passes them: in the environment, read by the S3 client."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def test_s3_landing_zone_ingests_like_a_folder(s3_endpoint, tmp_path):
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="meridian-landing")
    local = tmp_path / "drops"
    write_day(local, DAY, vehicles=4, seed=5)
    _upload(client, local, "meridian-landing", "vendor/drops")

    lake = tmp_path / "lake"
    result = dg.materialize(
        raw_assets, partition_key=DAY,
        resources={"landing": LandingZone(uri="s3://meridian-landing/vendor/drops", endpoint_url=s3_endpoint),
                   "lake": Lake(root=str(lake))},
    )
    assert result.success
    for source_dir in local.iterdir():
        expected = pq.read_table(source_dir / DAY).num_rows
        assert pq.read_table(lake / "raw" / source_dir.name / f"date={DAY}").num_rows == expected


def test_s3_drop_without_sentinel_is_not_ingested(s3_endpoint, tmp_path):
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="meridian-partial")
    local = tmp_path / "drops"
    write_day(local, DAY, vehicles=2, seed=5)
    _upload(client, local, "meridian-partial", "p", sentinel=False)
    gps = [a for a in raw_assets if a.key.to_user_string() == "raw_gps_telemetry"]
    result = dg.materialize(
        gps, partition_key=DAY, raise_on_error=False,
        resources={"landing": LandingZone(uri="s3://meridian-partial/p", endpoint_url=s3_endpoint),
                   "lake": Lake(root=str(tmp_path / "lake"))},
    )
    assert not result.success
    message = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "s3://meridian-partial/p/gps/2026-11-01/" in message and "incomplete drop" in message


def test_landing_sensor_on_s3_triggers_once_per_delivery(s3_endpoint, tmp_path):
    """The sentinel's version on S3 is its LastModified and ETag: a re-upload triggers again."""
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="meridian-sensed")
    local = tmp_path / "drops"
    write_day(local, DAY, vehicles=2, seed=5)
    _upload(client, local, "meridian-sensed", "v")
    client.put_object(Bucket="meridian-sensed", Key="v/gps/not-a-day/_SUCCESS", Body=b"")
    client.put_object(Bucket="meridian-sensed", Key="v/gps/../2026-11-02/_SUCCESS", Body=b"")  # a path, not a day
    landing = LandingZone(uri="s3://meridian-sensed/v", endpoint_url=s3_endpoint)
    instance = dg.DagsterInstance.ephemeral()
    cursor = None

    def tick() -> list[tuple[str, int]]:
        nonlocal cursor
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources={"landing": landing}) as context:
            result = landing_sensor(context)
        cursor = result.cursor
        return [(r.partition_key, len(r.asset_selection)) for r in result.run_requests]

    assert tick() == [(DAY, 5)]
    assert tick() == []
    time.sleep(1.1)  # LastModified has one-second resolution
    client.put_object(Bucket="meridian-sensed", Key=f"v/gps/{DAY}/_SUCCESS", Body=b"")
    assert tick() == [(DAY, 1)]
