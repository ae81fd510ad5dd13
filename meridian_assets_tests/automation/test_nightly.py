"""The nightly schedule: yesterday's partition at 01:00 UTC, only what is outstanding, no catch-up."""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest

import dagster as dg
from meridian_assets.definitions import defs
from meridian_assets.defs.automation.nightly import nightly_schedule
from meridian_assets.defs.resources import SENTINEL, LandingZone
from meridian_assets.synthetic import write_day
from meridian_assets_tests.automation.recorded import FEATURES, GPS_CHECK, ML, RAW, record

TICK = datetime.datetime(2026, 11, 26, 1, 0, tzinfo=datetime.timezone.utc)
YESTERDAY = "2026-11-25"


class Night:
    def __init__(self, root: Path, instance: dg.DagsterInstance):
        self.definitions = defs()
        self.graph = self.definitions.resolve_asset_graph()
        self.landing = LandingZone(uri=str(root / "landing"))
        self.instance = instance

    def tick(self, at: datetime.datetime = TICK) -> tuple[str | None, set[str]] | str:
        """The run the schedule asks for (partition, assets), or why it skipped."""
        with dg.build_schedule_context(
            instance=self.instance, scheduled_execution_time=at, resources={"landing": self.landing},
            repository_def=self.definitions.get_repository_def(),
        ) as context:
            result = nightly_schedule.evaluate_tick(context)
        if result.skip_message:
            return result.skip_message
        (request,) = result.run_requests
        return request.partition_key, {k.to_user_string() for k in request.asset_selection}


@pytest.fixture
def night(tmp_path):
    (tmp_path / "home").mkdir()
    write_day(tmp_path / "landing", YESTERDAY, vehicles=3, seed=4)
    with dg.DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        yield Night(tmp_path, instance)


def test_targets_yesterday_and_waits_for_an_incomplete_drop(night):
    (Path(night.landing.uri) / "weather" / YESTERDAY / SENTINEL).unlink()
    partition, assets = night.tick()
    assert partition == YESTERDAY
    # Weather has not arrived: its asset and everything that reads it wait.
    assert assets == set(RAW) - {"raw_weather"} | set(FEATURES) - {"weather_features"}


def test_requests_only_what_automation_has_not_done(night):
    record(night.instance, night.graph, (*RAW, *FEATURES, "ml_feature_table"), YESTERDAY)
    assert night.tick() == (YESTERDAY, {"delivery_time_model", "deployed_model"})
    record(night.instance, night.graph, ML, YESTERDAY)
    assert "nothing outstanding" in night.tick()


def test_holds_what_a_failed_check_blocks(night):
    """The day's own GPS features wait; its ml table reads the GPS features of the day before (none
    on the first day) and follows."""
    record(night.instance, night.graph, RAW, YESTERDAY, failed={GPS_CHECK: dg.AssetCheckSeverity.ERROR})
    assert night.tick() == (YESTERDAY, set(FEATURES) - {"gps_features"} | set(ML))


def test_the_night_after_a_bad_gps_day_holds_what_reads_it(night, capfd):
    """Day D-1's GPS failed: D's ml table reads D-1's GPS features, so it, the model judged on D and
    its deployment wait, naming the cause; D's own features follow."""
    before = "2026-11-24"
    record(night.instance, night.graph, RAW, before, failed={GPS_CHECK: dg.AssetCheckSeverity.ERROR})
    record(night.instance, night.graph, (*FEATURES[1:], *ML), before)
    record(night.instance, night.graph, RAW, YESTERDAY)
    assert night.tick() == (YESTERDAY, set(FEATURES))
    said = capfd.readouterr().err
    for held in ML:
        assert f"{YESTERDAY}: not requested: {held}: raw_gps_telemetry.{GPS_CHECK} failed for {before}" in said


def test_leaves_a_day_alone_while_a_run_works_on_it(night):
    run = night.instance.create_run_for_job(
        night.definitions.resolve_job_def("daily_pipeline"), tags={"dagster/partition": YESTERDAY},
        status=dg.DagsterRunStatus.STARTED,
    )
    assert run.run_id in night.tick()


def test_a_later_tick_targets_its_own_yesterday(night):
    """After a pause the next tick is for its own yesterday, not each day missed."""
    write_day(Path(night.landing.uri), "2026-11-28", vehicles=3, seed=4)
    assert night.tick(TICK + datetime.timedelta(days=3))[0] == "2026-11-28"


def test_the_scheduler_after_six_days_down_runs_one_night(tmp_path, monkeypatch):
    """Dagster's own scheduler loop, with the location in a code server: six missed nights
    give one run, for the last night's yesterday (no catch-up storm)."""
    from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._scheduler.scheduler import launch_scheduled_runs

    monkeypatch.setenv("MERIDIAN_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("MERIDIAN_LAKE", str(tmp_path / "lake"))
    for day in ("2026-11-21", YESTERDAY):
        write_day(tmp_path / "landing", day, vehicles=3, seed=4)
    (tmp_path / "home").mkdir()
    queued = {"run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator"}}
    target = ModuleTarget(module_name="meridian_assets.definitions", attribute=None,
                          working_directory=str(Path(__file__).resolve().parents[2]), location_name="meridian_assets")
    with (
        dg.DagsterInstance.local_temp(str(tmp_path / "home"), overrides=queued) as instance,
        create_test_daemon_workspace_context(target, instance) as workspace,
    ):
        def scheduler_tick(now: datetime.datetime) -> None:
            with freeze_time(now):
                list(launch_scheduled_runs(workspace, logging.getLogger("test"), now, iteration_times={}))

        scheduler_tick(datetime.datetime(2026, 11, 20, 0, 30, tzinfo=datetime.timezone.utc))
        assert instance.get_runs() == []
        scheduler_tick(TICK + datetime.timedelta(minutes=5))  # the daemon was down since the 20th
        runs = instance.get_runs()
        assert [run.tags["dagster/partition"] for run in runs] == [YESTERDAY]
        assert runs[0].tags["dagster/schedule_name"] == "nightly_schedule"
