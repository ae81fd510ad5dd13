"""The production profile's instance: deploy/dagster.yaml over a real PostgreSQL server, started
by scripts/postgres.sh on 127.0.0.1 in a temporary folder and stopped at the end.

From an empty instance and lake, all recorded whole in PostgreSQL: a daemon backfill that goes
on after the daemon is killed, with a day asked for twice at once and a day whose checks fail
(alerted once); a run killed while it writes a partition (failed, retried, the same rows); and two
runs writing events at the same moment. The automation, landing and freshness sensors are
stopped here: the story's daemon test covers them, on the embedded instance.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

import dagster as dg
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionStatus
from meridian_assets import cli
from meridian_assets.dagster_private import code_location
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.automation.alerts import alert_sensor
from meridian_assets.defs.ml_table.assets import environment
from meridian_assets.synthetic import write_day
from meridian_assets_tests.daemon import PROJECT, Daemon
from meridian_assets_tests.webhook import Webhook
from meridian_assets_tests.ports import free_port
from spark_jobs.layout import days_between

BACKFILLED = days_between("2026-10-01", "2026-10-02")
STALE = BACKFILLED[-1]  # its GPS drop is a copy of the day before: it fails its checks, one alert
RACED = BACKFILLED[0]  # asked for again at the moment the backfill is submitted
KILLED = BACKFILLED[0]  # then run a third time, and killed while it writes
VEHICLES = 150  # a GPS day of this fleet takes long enough to write to be killed in the middle
WORKSPACE = str(PROJECT / "workspace.yaml")
RAW_GPS = dg.AssetKey("raw_gps_telemetry")
RAW_ASSETS = [contract.asset_name for contract in SOURCES.values()]


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




def event_types(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.dagster_event.event_type_value for e in instance.all_logs(run_id) if e.is_dagster_event]


def whole(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """The run's record is complete: started once, every step that started succeeded, each raw
    asset materialized for the run's day, the run ended in success."""
    types = event_types(instance, run.run_id)
    run_events = [t for t in types if t.startswith("PIPELINE_")]
    assert run_events.count("PIPELINE_START") == 1 and run_events[-1] == "PIPELINE_SUCCESS", types
    assert types.count("STEP_START") == types.count("STEP_SUCCESS") > 0, types
    assert materialized(instance, run) == [run.tags["dagster/partition"]] * 5


def materialized(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    return [e.dagster_event.partition for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]


def assets_materialized(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.dagster_event.asset_key.to_user_string()
            for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)]


class Location:
    """The code location as the UI loads it (its code server in a process of its own), for the
    test to do what a person does on the UI: switch sensors, ask for a run."""

    def __init__(self, instance: dg.DagsterInstance, stack: ExitStack):
        self.instance = instance
        self.workspace, self.location, self.repository = stack.enter_context(code_location(instance, WORKSPACE))

    def switch_sensors(self, on: set[str]) -> None:
        for sensor in self.repository.get_sensors():
            if sensor.name in on:
                self.instance.start_sensor(sensor)
            else:
                self.instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)

    def submit(self, day: str) -> str:
        """A daily_ingest run for `day` into the queue, as the Materialize button puts one."""
        from dagster._cli.job import _create_run
        from dagster._cli.workspace.cli_target import get_remote_job_from_remote_repo

        job = get_remote_job_from_remote_repo(self.repository, "daily_ingest")
        run = _create_run(self.instance, self.location, self.repository, job, {}, {"dagster/partition": day}, None, None)
        self.instance.submit_run(run.run_id, self.workspace)
        return run.run_id


def rows(partition: Path) -> list[tuple]:
    """A partition's rows, in order (DuckDB's deduplication writes them in any order)."""
    return sorted(pq.read_table(partition).to_pylist(), key=lambda row: tuple(map(str, row.values())))


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The process a run executes in, from the event it records on starting."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        if found := re.search(r"Started process for run \(pid: (\d+)\)", entry.message):
            return int(found.group(1))
    return None


def test_a_backfill_survives_its_daemon_killed_and_a_run_killed_mid_write(home):
    root, lake = home, home / "lake"
    for day in BACKFILLED:
        write_day(root / "landing", day, vehicles=VEHICLES, seed=5)
    stale = root / "landing" / "gps" / STALE  # the GPS vendor sends the day before again
    shutil.rmtree(stale)
    shutil.copytree(root / "landing" / "gps" / BACKFILLED[-2], stale)
    instance = dg.DagsterInstance.get()
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    webhook = Webhook()
    daemons: list[Daemon] = []
    with ExitStack() as stack:
        stack.callback(instance.dispose)
        stack.callback(webhook.stop)
        stack.callback(lambda: [daemon.stop() for daemon in daemons])
        ui = Location(instance, stack)
        ui.switch_sensors(on={alert_sensor.name})
        # A backfill, submitted as README says (queued by the command, run by the daemon), and
        # its first day asked for again at the same moment, as a person clicking Materialize.
        subprocess.run(
            [str(Path(sys.executable).with_name("dagster")), "job", "backfill", "-w", WORKSPACE, "-j", "daily_ingest",
             "--from", BACKFILLED[0], "--to", BACKFILLED[-1], "--noprompt"],
            cwd=PROJECT, check=True, capture_output=True,
        )
        raced = ui.submit(RACED)
        webhook.start()
        (backfill,) = instance.get_backfills()
        of_backfill = dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})

        # The daemon dies once the backfill's first run is under way, and is started again.
        daemons.append(Daemon(root, webhook))
        daemons[0].wait_for("a backfill run under way",
                            lambda: any(r.status == dg.DagsterRunStatus.STARTED for r in instance.get_runs(of_backfill)),
                            timeout=240)
        daemons[0].kill()
        daemons.append(daemon := Daemon(root, webhook))
        daemon.wait_for("the backfill's runs to end", lambda: len(runs := instance.get_runs(of_backfill)) == len(
            BACKFILLED) and all(r.is_finished for r in runs) and daemon.idle(), timeout=420)

        runs = instance.get_runs(of_backfill)
        assert sorted(r.tags["dagster/partition"] for r in runs) == BACKFILLED, "one run per day, none twice"
        for r in runs:
            if r.tags["dagster/partition"] != STALE:
                whole(instance, r)
        stale_runs = [r for r in runs if r.tags["dagster/partition"] == STALE]
        assert [r.status for r in stale_runs] == [dg.DagsterRunStatus.FAILURE], "its GPS checks failed"
        # The day asked for twice ran twice, one run after the other, never at once.
        first, second = sorted([instance.get_run_record_by_id(raced), *[
            instance.get_run_record_by_id(r.run_id) for r in runs if r.tags["dagster/partition"] == RACED]],
            key=lambda record: record.start_time)
        assert first.end_time <= second.start_time, "two runs wrote the same day at once"
        whole(instance, instance.get_run_by_id(raced))

        # A run of a day already in the lake, killed while it writes the GPS partition.
        partition = lake / "raw" / "gps" / f"date={KILLED}"
        before, before_rows = contents(partition), rows(partition)
        killed = ui.submit(KILLED)
        deadline = time.monotonic() + 240
        while not ((pid := worker_pid(instance, killed)) and list(partition.parent.glob(".staging-*"))):
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        assert contents(partition) == before, "the previous day stays whole while the new one is half written"
        retried = dg.RunsFilter(tags={"dagster/parent_run_id": killed})
        daemon.wait_for("the killed run's retry to end",
                        lambda: instance.get_runs(retried) and all(r.is_finished for r in instance.get_runs(retried)),
                        timeout=300)
        assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE, "the dead run is failed"
        (retry,) = instance.get_runs(retried)
        assert retry.status == dg.DagsterRunStatus.SUCCESS
        # The retry runs what the killed run had not finished: between them, each asset once.
        assert RAW_GPS.to_user_string() in (redone := assets_materialized(instance, retry.run_id))
        assert sorted(assets_materialized(instance, killed) + redone) == sorted(RAW_ASSETS)
        assert rows(partition) == before_rows, "the re-run lands the same rows"

        daemon.wait_for("the backfill marked ended",
                        lambda: instance.get_backfill(backfill.backfill_id).status in BULK_ACTION_TERMINAL_STATUSES,
                        timeout=120)
        assert instance.get_backfill(backfill.backfill_id).status not in {BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
        # One alert: the stale day, though the daemon was killed between ticks; the killed run,
        # retried and then whole, raises none.
        (alert,) = webhook.received
        assert STALE in str(alert) and RAW_GPS.to_user_string() in str(alert)


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
