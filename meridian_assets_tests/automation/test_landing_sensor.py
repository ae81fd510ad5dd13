"""The landing sensor on a local landing zone: once per delivery, again on re-delivery, never for
a folder that is not a day partition. (The S3 landing zone: ingestion/test_s3_landing.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import dagster as dg
from meridian_assets.defs.automation.landing import landing_sensor
from meridian_assets.defs.resources import SENTINEL, LandingZone
from meridian_assets.definitions import defs
from meridian_assets.synthetic import write_day
from meridian_assets_tests.automation.recorded import RAW, record

NOT_DAYS = ["not-a-date", "2023-12-31", "2026-02-30", "2999-01-01", "2026-11-1"]


class Sensor:
    """Ticks the sensor as the daemon does: each tick starts from the cursor the last one stored."""

    def __init__(self, landing: Path, instance: dg.DagsterInstance):
        self.landing = LandingZone(uri=str(landing))
        self.instance = instance
        self.cursor = None

    def tick(self) -> list[tuple[str, set[str]]]:
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursor,
                                     resources={"landing": self.landing}) as context:
            result = landing_sensor(context)
        self.cursor = result.cursor
        return [(r.partition_key, {k.to_user_string() for k in r.asset_selection}) for r in result.run_requests]


@pytest.fixture
def sensor(tmp_path):
    (tmp_path / "home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        yield Sensor(tmp_path / "landing", instance)


def redeliver(landing: Path, source: str, day: str) -> None:
    """A vendor replaces the folder and writes a new sentinel last."""
    folder = landing / source / day
    parts = {p.name: p.read_bytes() for p in folder.glob("part-*")}
    shutil.rmtree(folder)
    folder.mkdir()
    for name, data in parts.items():
        (folder / name).write_bytes(data)
    (folder / SENTINEL).touch()


def test_each_delivery_triggers_its_day_once(sensor):
    landing = Path(sensor.landing.uri)
    write_day(landing, "2026-11-08", vehicles=3, seed=11)
    assert sensor.tick() == [("2026-11-08", set(RAW))]
    assert sensor.tick() == [], "the same sentinels trigger nothing"

    write_day(landing, "2026-11-09", vehicles=3, seed=11)
    (landing / "weather" / "2026-11-09" / SENTINEL).unlink()  # still arriving
    assert sensor.tick() == [("2026-11-09", set(RAW) - {"raw_weather"})]
    (landing / "weather" / "2026-11-09" / SENTINEL).touch()
    assert sensor.tick() == [("2026-11-09", {"raw_weather"})]

    redeliver(landing, "gps", "2026-11-08")
    assert sensor.tick() == [("2026-11-08", {"raw_gps_telemetry"})], "a re-delivery triggers again"

    restarted = Sensor(landing, sensor.instance)
    restarted.cursor = sensor.cursor  # the daemon stores the cursor with each tick
    assert restarted.tick() == [], "nothing triggers twice after a restart"


def test_folders_that_are_not_day_partitions_are_skipped_and_named(sensor):
    landing = Path(sensor.landing.uri)
    for name in NOT_DAYS:
        (landing / "gps" / name).mkdir(parents=True)
        (landing / "gps" / name / SENTINEL).touch()
    assert sensor.tick() == []
    skipped = json.loads(sensor.cursor)["skipped"]
    assert sorted(line.split(":")[0] for line in skipped) == sorted(f"gps/{name}" for name in NOT_DAYS)
    assert any("before the partitions' start" in line for line in skipped)
    assert any("has not ended yet" in line for line in skipped)


def test_run_requests_name_the_delivery(sensor):
    """The run key names the exact sentinels: the daemon never launches one delivery twice."""
    landing = Path(sensor.landing.uri)
    write_day(landing, "2026-11-08", vehicles=3, seed=11)
    with dg.build_sensor_context(instance=sensor.instance, resources={"landing": sensor.landing}) as context:
        first = landing_sensor(context).run_requests[0]
        redeliver(landing, "gps", "2026-11-08")
        second = landing_sensor(context).run_requests[0]
    assert first.run_key.startswith("2026-11-08:") and first.run_key != second.run_key
    assert first.tags["meridian/trigger"] == "landing"


def test_a_first_tick_over_history_asks_only_for_what_is_not_in(sensor):
    """Started over a landing zone whose days were ingested (by `make run`, or before a lost
    cursor), the sensor asks only for deliveries newer than their raw partition."""
    landing = Path(sensor.landing.uri)
    for day in ("2026-11-07", "2026-11-08"):
        write_day(landing, day, vehicles=3, seed=11)
    graph = defs().resolve_asset_graph()
    record(sensor.instance, graph, RAW, "2026-11-07")
    redeliver(landing, "gps", "2026-11-07")  # after the ingestion: new
    assert sorted(sensor.tick()) == [("2026-11-07", {"raw_gps_telemetry"}), ("2026-11-08", set(RAW))]
