"""The production profile's instance: deploy/dagster.yaml over a real PostgreSQL server, started
by scripts/postgres.sh on 127.0.0.1 in a temporary folder and stopped at the end.

From an empty instance and lake, all recorded whole in PostgreSQL: a daemon backfill, the sensors (the landing sensor starts a run for a new
drop, the alert sensor reports its failed check once), and two runs writing events at the same
moment. The automation and freshness sensors are stopped here: the story's daemon test covers
them, on the embedded instance.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

import dagster as dg
from meridian_assets import cli
from meridian_assets.defs.automation.alerts import alert_sensor
from meridian_assets.defs.automation.landing import TRIGGER_TAG
from meridian_assets.defs.ml_table.assets import environment
from meridian_assets.defs.resources import SENTINEL
from meridian_assets.synthetic import write_day
from meridian_assets_tests.daemon import PROJECT, Daemon
from meridian_assets_tests.webhook import Webhook
from meridian_assets_tests.ports import free_port

BACKFILLED, STALE = ["2026-10-01"], "2026-10-02"
WORKSPACE = str(PROJECT / "workspace.yaml")
RAW_GPS = dg.AssetKey("raw_gps_telemetry")


@pytest.fixture(scope="module")
def postgres():
    """The server, and the variables deploy/dagster.yaml reads (a fresh password each time)."""
    folder = tempfile.mkdtemp(prefix="meridian-pg-")  # in /tmp: the server's user can reach it
    port = free_port()
    env = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(port), "DAGSTER_PG_DB": "dagster",
           "DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": secrets.token_hex(12)}
    script = str(PROJECT / "scripts" / "postgres.sh")
    subprocess.run([script, "start", folder, str(port)], env={**os.environ, **env}, check=True)
    try:
        yield env
    finally:
        subprocess.run([script, "stop", folder], check=True)


@pytest.fixture()
def home(postgres, tmp_path):
    """An empty instance on the server (its tables created on first use), and an empty lake."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {**postgres, "DAGSTER_HOME": str(home), "MERIDIAN_LANDING": str(tmp_path / "landing"),
           "MERIDIAN_LAKE": str(tmp_path / "lake")}
    with environment(env):
        yield tmp_path


def test_the_profile_keeps_every_setting_of_the_embedded_default():
    default = yaml.safe_load((PROJECT / "dagster.yaml").read_text())
    production = yaml.safe_load((PROJECT / "deploy" / "dagster.yaml").read_text())
    assert {k: v for k, v in production.items() if k != "storage"} == default
    connection = production["storage"]["postgres"]["postgres_db"]
    secrets_ = {k: v for k, v in connection.items() if k != "scheme"}
    assert all(set(value) == {"env"} for value in secrets_.values()), "the connection comes from the environment"


def sensors(instance: dg.DagsterInstance) -> dict:
    """The location's sensors, as the daemon and the UI see them (the code location loaded once)."""
    with cli.code_location(instance, WORKSPACE) as (_, _, repository):
        return {sensor.name: sensor for sensor in repository.get_sensors()}


def switch(instance: dg.DagsterInstance, sensor, on: bool) -> None:
    """As a person does on the UI's Sensors page."""
    if on:
        instance.start_sensor(sensor)
    else:
        instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)


def event_types(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.is_dagster_event]


def whole(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """The run's record is complete: started once, every step that started succeeded, each raw
    asset materialized for the run's day, the run ended in success."""
    types = event_types(instance, run.run_id)
    run_events = [t for t in types if t.startswith("PIPELINE_")]
    assert run_events.count("PIPELINE_START") == 1 and run_events[-1] == "PIPELINE_SUCCESS", types
    assert types.count("STEP_START") == types.count("STEP_SUCCESS") > 0, types
    day = run.tags["dagster/partition"]
    materialized = [e.dagster_event.partition for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]
    assert materialized == [day] * 5, materialized


def test_a_daemon_backfill_and_the_sensors_on_postgresql(home):
    root = home
    for day in BACKFILLED:
        write_day(root / "landing", day, vehicles=30, seed=5)
    instance = dg.DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    location_sensors = sensors(instance)
    for name, sensor in location_sensors.items():
        switch(instance, sensor, on=name == alert_sensor.name)

    # A backfill, submitted as README says: queued by the command, run by the daemon.
    subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "job", "backfill", "-w", WORKSPACE, "-j", "daily_ingest",
         "--from", BACKFILLED[0], "--to", BACKFILLED[-1], "--noprompt"],
        cwd=PROJECT, check=True, capture_output=True,
    )
    webhook = Webhook()
    webhook.start()
    daemon = Daemon(root, webhook)
    try:
        (backfill,) = instance.get_backfills()
        of_backfill = dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
        daemon.wait_for("the backfill's runs", lambda: all(r.is_finished for r in instance.get_runs(of_backfill)),
                        timeout=300)
        runs = instance.get_runs(of_backfill)
        assert sorted(r.tags["dagster/partition"] for r in runs) == BACKFILLED
        for r in runs:
            whole(instance, r)

        # The landing sensor: the GPS vendor delivers the day before again as a new day. Only
        # that day is requested (the others were ingested after their drops), and it fails its
        # checks: one alert.
        stale = root / "landing" / "gps" / STALE
        shutil.copytree(root / "landing" / "gps" / BACKFILLED[-1], stale)
        (stale / SENTINEL).touch()
        switch(instance, location_sensors["landing_sensor"], on=True)
        alerts = lambda: [m for m in webhook.received if STALE in str(m)]  # noqa: E731
        daemon.wait_for(f"an alert about {STALE}", alerts, timeout=240)
        daemon.wait_for("no run in progress", daemon.idle, timeout=120)
        (alert,) = alerts()
        assert RAW_GPS.to_user_string() in str(alert)
        sensed = instance.get_runs(dg.RunsFilter(tags={TRIGGER_TAG: "landing"}))
        assert [(r.tags["dagster/partition"], r.status) for r in sensed] == [(STALE, dg.DagsterRunStatus.FAILURE)]
        assert instance.get_materialized_partitions(RAW_GPS) == {*BACKFILLED, STALE}
    finally:
        daemon.stop()
        webhook.stop()
        instance.dispose()


WRITER = """
import sys, time
from pathlib import Path
import dagster as dg
run_id, go, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
with dg.DagsterInstance.get() as instance:
    run = instance.get_run_by_id(run_id)
    while not go.exists():
        time.sleep(0.01)
    for i in range(count):
        instance.report_engine_event(f"event {i}", run)
"""


def test_two_runs_writing_events_at_once_are_both_recorded_whole(home):
    """Two processes append to two runs' event logs at the same moment: each log holds every one
    of its events, once, in order."""
    instance = dg.DagsterInstance.get()
    runs = [instance.add_run(dg.DagsterRun(job_name="writer", run_id=f"writer-{n}-{secrets.token_hex(4)}"))
            for n in (1, 2)]
    go, count = home / "go", 200
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, run.run_id, str(go), str(count)]) for run in runs]
    go.touch()
    assert [w.wait(timeout=300) for w in writers] == [0, 0]
    for run in runs:
        messages = [e.message for e in instance.all_logs(run.run_id)]
        assert messages == [f"event {i}" for i in range(count)]
    instance.dispose()
