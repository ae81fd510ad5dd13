"""Runs made cheaply on a real instance (one raw asset, a check; no Spark) and the alert sensor
ticked as the daemon would, for the tests of alerts and of the faults that end in them."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

import dagster as dg
from dagster._core.test_utils import freeze_time, instance_for_test

from meridian_assets.definitions import ASSETS, CHECKS, defs
from meridian_assets.defs.automation.alerts import alert_sensor
from meridian_assets.defs.resources import LandingZone, from_environment
from meridian_assets.lake import Lake
from meridian_assets.synthetic import write_day
from meridian_assets_tests.webhook import Webhook

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_YAML = yaml.safe_load((ROOT / "dagster.yaml").read_text())
DAY = "2026-11-20"
NOW = datetime(2026, 11, 25, 4, tzinfo=timezone.utc)  # the last daily partition is 2026-11-24
UI = "http://ui.test"
GPS = dg.AssetKey("raw_gps_telemetry")
REPOSITORY = defs().get_repository_def()  # the code location the sensor runs in
# What raw_gps_telemetry 2026-11-20 holds back on NOW: the features that day, the ml table the
# day after (it reads GPS at D-1), and the model judged on that day and its deployment; later
# models leave that day out of their training window, so they do not wait.
GPS_DAY_WAITING = ["gps_features 2026-11-20", "ml_feature_table 2026-11-21", "delivery_time_model 2026-11-21",
                   "deployed_model 2026-11-21"]


def make_instance(tmp_path: Path, *sections: str):
    """An instance with these sections of the project's dagster.yaml."""
    (tmp_path / "home").mkdir()
    return instance_for_test(overrides={s: INSTANCE_YAML[s] for s in sections}, temp_dir=str(tmp_path / "home"))


class Watch:
    """The alert sensor, ticked as the daemon does: its cursor carried from tick to tick."""

    def __init__(self, instance: dg.DagsterInstance, webhook: Webhook):
        self.instance, self.webhook, self.cursor = instance, webhook, None
        assert self.tick() == [], "the first tick starts from now"

    def tick(self) -> list[dict]:
        before = len(self.webhook.received)
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, repository_def=REPOSITORY)
        with freeze_time(NOW):
            alert_sensor(context)
        self.cursor = context.cursor
        return self.webhook.received[before:]


def run(root: Path, instance, selection, day: str | None = DAY, extra=(), tags=None, landing=None):
    """One in-process run, without the freshness checks unless `extra` has them (they judge the
    real clock's yesterday). The day goes in as the run's partition tag: materialize() refuses
    partition_key when only checks are selected (no PartitionsDefinition shared by the assets)."""
    resources = {**from_environment(), "landing": landing or LandingZone(uri=str(root / "landing")),
                 "lake": Lake(root=str(root / "lake"))}
    return dg.materialize([*ASSETS, *CHECKS, *extra], selection=selection, instance=instance, resources=resources,
                          tags={**({"dagster/partition": day} if day else {}), **(tags or {})}, raise_on_error=False)


def drop(root: Path, gps_outside_day: bool = False, complete: bool = True) -> None:
    """A small day of drops; optionally one GPS ping re-stamped two days earlier, or no _SUCCESS."""
    write_day(root / "landing", DAY, vehicles=3, seed=5)
    folder = root / "landing" / "gps" / DAY
    if gps_outside_day:
        path = next(folder.glob("part-*.parquet"))
        frame = pd.read_parquet(path)
        frame.loc[0, "event_ts"] -= pd.Timedelta(days=2)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(), path)
    if not complete:
        (folder / "_SUCCESS").unlink()


def assert_links(message: dict, run_id: str) -> None:
    assert f"Run: {UI}/runs/{run_id}" in message["text"]
    assert message["blocks"][-1]["elements"][0]["text"] == f"<{UI}/runs/{run_id}|Open the run>"
