"""The same code location with MERIDIAN_LAKE=s3://...: the story's first day, from an empty
instance and an empty bucket, lands in object storage and equals the local lake's day. The run
reads its S3 keys from the environment, and neither reaches its logs or metadata."""

from __future__ import annotations

import uuid

import pandas as pd
import pyarrow.parquet as pq

import dagster as dg
from meridian_assets import lake_s3
from meridian_assets.contracts import FEATURES
from meridian_assets.definitions import ASSETS, CHECKS
from meridian_assets.lake import RAW_TABLES, Lake
from meridian_assets_tests.pipeline.story import GOOD, resources, step_failures
from meridian_assets_tests.s3 import ENVIRONMENT, client
from spark_jobs.layout import partition_dir

DAY = GOOD[0]
TABLES = [*RAW_TABLES.values(), *(f"features/{name}" for name in FEATURES),
          "ml_feature_table"]


def _frame(folder) -> pd.DataFrame:
    frame = pq.read_table(folder).to_pandas()
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def _everything_recorded(home) -> bytes:
    """Every file the instance wrote: run and event-log databases (metadata included), compute logs."""
    return b"\n".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_a_day_on_an_s3_lake_equals_the_local_lake(good_history, s3_endpoint, tmp_path, monkeypatch):
    # The secrets this run reads: the S3 client signs every request of every step with them.
    secrets = {"AWS_ACCESS_KEY_ID": f"AKIA{uuid.uuid4().hex[:16].upper()}",
               "AWS_SECRET_ACCESS_KEY": f"aws-{uuid.uuid4().hex}"}
    for name, value in {**ENVIRONMENT, **secrets}.items():
        monkeypatch.setenv(name, value)
    client(s3_endpoint).create_bucket(Bucket="meridian-pipeline")
    root = "s3://meridian-pipeline/lake"
    lake = Lake(root=root, working_copy=str(tmp_path / "step-copy"), endpoint_url=s3_endpoint)
    home = tmp_path / "dagster_home"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(str(home))

    result = dg.materialize(
        [*ASSETS, *CHECKS], partition_key=DAY, instance=instance,
        resources={**resources(good_history), "lake": lake}, raise_on_error=False,
    )
    assert result.success, step_failures(result)
    assert list(home.glob(f"storage/{result.run_id}/compute_logs/*.err")), "the steps' output was captured"
    recorded = _everything_recorded(home)
    assert result.run_id.encode() in recorded and b"raw_gps_telemetry" in recorded
    for name, value in secrets.items():
        assert value.encode() not in recorded, f"{name} leaked into the run's logs or metadata"

    # A reader with nothing but the bucket: every layer of the day is there, and equal.
    reader = Lake(root=root, working_copy=str(tmp_path / "reader-copy"), endpoint_url=s3_endpoint)
    for table in TABLES:
        assert lake_s3.current(reader._bucket, f"{table}/date={DAY}"), f"{table} {DAY} is published"
        pd.testing.assert_frame_equal(_frame(reader.partition(table, DAY)),
                                      _frame(partition_dir(good_history / "lake", table, DAY)), obj=table)
    uris = [m.metadata["dagster/uri"].value for m in result.asset_materializations_for_node("raw_gps_telemetry")]
    assert uris == [f"{root}/raw/gps/date={DAY}"], "the UI shows where the day is kept"
    instance.dispose()
