"""Declarative automation on a real instance: what follows a day's drops, what a failed check holds
back, and what a good re-delivery heals (the next day's ml table, which reads D-1, included).

Runs are stood in for by the events they would record (`recorded.py`).
"""

from __future__ import annotations

import datetime

import pytest

import dagster as dg
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from meridian_assets.definitions import defs
from meridian_assets_tests.automation.recorded import FEATURES, GPS_CHECK, ML, RAW, record

NOW = datetime.datetime(2026, 11, 11, 0, 30, tzinfo=datetime.timezone.utc)


class Platform:
    """An instance, the location's graph and the automation cursor, ticked under a fixed clock."""

    def __init__(self, instance: dg.DagsterInstance):
        self.defs = defs()
        self.graph = self.defs.resolve_asset_graph()
        self.instance = instance
        self.cursor = None

    def record(self, names, day: str, failed: dict[str, dg.AssetCheckSeverity] | None = None) -> None:
        record(self.instance, self.graph, names, day, failed)

    def tick(self, selection: dg.AssetSelection | None = None) -> dict[str, set[str]]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, asset_selection=selection, cursor=self.cursor, evaluation_time=NOW
        )
        self.cursor = result.cursor
        return {key.to_user_string(): result.get_requested_partitions(key)
                for key in self.graph.get_all_asset_keys() if result.get_num_requested(key)}


def requests(spec: dict[tuple[str, ...], set[str]]) -> dict[str, set[str]]:
    return {name: days for names, days in spec.items() for name in names}


@pytest.fixture
def platform(tmp_path):
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        yield Platform(instance)


@pytest.mark.parametrize("severity", [dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN])
def test_a_blocking_check_holds_the_day_downstream_only_when_it_fails_with_error(platform, severity):
    """The same failed result of a blocking check of raw GPS: with ERROR the day's GPS features
    wait (and nothing else does: the first day's ml table reads no earlier GPS features); with
    WARN everything follows, as after a good day."""
    assert platform.graph.get_check_spec(dg.AssetCheckKey(dg.AssetKey("raw_gps_telemetry"), GPS_CHECK)).blocking
    platform.tick()
    platform.record(RAW, "2026-11-08", failed={GPS_CHECK: severity})
    held = {"gps_features"} if severity == dg.AssetCheckSeverity.ERROR else set()
    assert platform.tick() == requests({
        tuple(name for name in (*FEATURES, *ML) if name not in held): {"2026-11-08"},
        ("customer_features",): {"2026-11-08", "2026-11-09"},
    })


def test_a_day_flows_down_is_held_by_a_failed_check_and_healed_by_a_re_delivery(platform):
    assert platform.tick() == {}, "the first tick only starts the cursor"

    # A good day: everything downstream follows in one tick (one run), training and deployment
    # included, and the customer features of day 9, which read only day 8 (its snapshot, its deliveries).
    platform.record(RAW, "2026-11-08")
    assert platform.tick() == requests({(*FEATURES, *ML): {"2026-11-08"}, ("customer_features",): {"2026-11-08", "2026-11-09"}})
    platform.record((*FEATURES, *ML), "2026-11-08")
    platform.record(["customer_features"], "2026-11-09")
    assert platform.tick() == {}

    # Day 9's GPS fails an ERROR check; day 10 is good but for a WARN, which never holds anything back.
    platform.record(RAW, "2026-11-09", failed={GPS_CHECK: dg.AssetCheckSeverity.ERROR})
    platform.record(RAW, "2026-11-10", failed={"hours_complete": dg.AssetCheckSeverity.WARN})
    assert platform.tick() == requests({
        ("route_features", "weather_features", "traffic_features"): {"2026-11-09", "2026-11-10"},
        ("gps_features", "customer_features"): {"2026-11-10"},
        ML: {"2026-11-09"},
    }), ("day 9's GPS features wait, and so do day 10's ml table (it reads day 9's GPS features) and model; "
         "day 9's ml table reads day 8's GPS features and follows")
    platform.record(FEATURES[1:], "2026-11-09")
    platform.record(FEATURES, "2026-11-10")
    platform.record(ML, "2026-11-09")
    assert platform.tick() == {}, "a failed check stays blocking: nothing asks again"

    # The vendor re-delivers day 9's GPS; it passes. Its GPS features follow; day 10's ml table,
    # which reads them, waits for them, not to read them half rebuilt, then follows.
    platform.record(["raw_gps_telemetry"], "2026-11-09")
    assert platform.tick() == requests({("gps_features",): {"2026-11-09"}})
    platform.record(["gps_features"], "2026-11-09")
    assert platform.tick() == requests({ML: {"2026-11-10"}})


def test_nothing_follows_a_day_whose_drops_are_not_all_in(platform):
    """Only what reads nothing but the drops that are in: the day's GPS features, and on the first
    day the customer features (they read D-1, before any history)."""
    platform.tick()
    platform.record(["raw_gps_telemetry"], "2026-11-08")
    assert platform.tick() == {"gps_features": {"2026-11-08"}, "customer_features": {"2026-11-08"}}


def test_days_delivered_together_follow_in_order_never_reading_a_day_being_built(platform):
    """A day reads the one before (GPS features at D-1, training on D-28..D-1): while that day is
    requested in the same tick, it would run beside it in another run; it waits one tick."""
    platform.tick()
    platform.record(RAW, "2026-11-08")
    platform.record(RAW, "2026-11-09")
    assert platform.tick() == requests({FEATURES: {"2026-11-08", "2026-11-09"}, ML: {"2026-11-08"},
                                        ("customer_features",): {"2026-11-08", "2026-11-09", "2026-11-10"}})
    platform.record((*FEATURES, *ML), "2026-11-08")
    platform.record(FEATURES, "2026-11-09")
    platform.record(["customer_features"], "2026-11-10")
    assert platform.tick() == requests({ML: {"2026-11-09"}})


def test_a_day_its_run_materializes_during_the_tick_is_not_asked_again(platform, monkeypatch):
    """What a daemon tick saw in CI: route_features' run wrote the day while the tick evaluated,
    so Dagster's in_progress() found it done while missing() still had it missing, and the day
    (then the ml table and the model after it) ran a second time. Here the write lands as the
    tick asks whether the day is in progress."""
    platform.tick()
    platform.record(RAW, "2026-11-08")
    platform.tick()
    route = dg.AssetKey("route_features")
    in_progress = AssetGraphView.compute_run_in_progress_subset

    async def finished_meanwhile(view, *, key, from_subset):
        if key == route:
            if "2026-11-08" not in platform.instance.get_materialized_partitions(route):
                platform.record([route.path[0]], "2026-11-08")
            return view.get_empty_subset(key=key)
        return await in_progress(view, key=key, from_subset=from_subset)

    monkeypatch.setattr(AssetGraphView, "compute_run_in_progress_subset", finished_meanwhile)
    assert "route_features" not in platform.tick()


def test_a_tick_runs_each_day_in_one_run_not_a_backfill():
    """`_requested` counts what a tick requests as built first in the same run; a backfill would
    run each asset in runs of its own, training before its table's checks (test_daemon.py)."""
    from meridian_assets.defs.automation.conditions import automation_sensor

    assert automation_sensor.emit_backfills is False


def test_a_re_delivered_old_day_is_rebuilt_but_trains_nothing(platform):
    """Training and deployment follow the newest day of the ml table only: a corrected older day
    rebuilds its data, and the next newest day's training uses it."""
    platform.tick()
    platform.record(RAW, "2026-11-08")
    platform.tick()
    platform.record((*FEATURES, *ML), "2026-11-08")
    platform.record(RAW, "2026-11-09")
    platform.record((*FEATURES, *ML), "2026-11-09")
    platform.record(["customer_features"], "2026-11-10")
    platform.tick()
    platform.record(RAW, "2026-11-08")  # the vendor re-delivers day 8
    requested = platform.tick()
    assert "2026-11-08" in requested["ml_feature_table"], requested
    assert "2026-11-08" not in requested.get("delivery_time_model", set()) | requested.get("deployed_model", set())


def test_each_downstream_group_carries_its_condition_by_name(platform):
    """The UI names the condition an asset follows: features and the ml table follow their inputs,
    training and deployment the newest day; raw assets follow the landing sensor, not a condition."""
    labels = {key.to_user_string(): platform.graph.get(key).automation_condition.label
              for key in platform.graph.get_all_asset_keys() if platform.graph.get(key).automation_condition}
    assert labels == {**{name: "follows_inputs" for name in (*FEATURES, "ml_feature_table")},
                      "delivery_time_model": "follows_newest_day", "deployed_model": "follows_newest_day"}


def test_training_waits_for_the_newer_day_this_tick_requests(platform):
    """Day 9's table is written, its training not yet run, when day 10's drops are all in: the tick
    requests day 10's table, so day 9 is no longer the newest and only day 10 trains and deploys."""
    platform.tick()
    platform.record(RAW, "2026-11-08")
    platform.record((*FEATURES, *ML), "2026-11-08")
    platform.record(RAW, "2026-11-09")
    platform.record(FEATURES, "2026-11-09")
    platform.record(["ml_feature_table"], "2026-11-09")
    platform.record(RAW, "2026-11-10")
    platform.record(FEATURES, "2026-11-10")
    assert platform.tick() == requests({ML: {"2026-11-10"}})


def test_training_follows_the_newest_day_in_a_tick_that_does_not_evaluate_the_table(platform):
    """NewestDay reads the table's days from the instance and adds what the tick requests: a tick
    over training and deployment alone (a sensor of their own) still trains the newest day."""
    platform.tick()
    platform.record(RAW, "2026-11-08")
    platform.record((*FEATURES, "ml_feature_table"), "2026-11-08")
    assert platform.tick(dg.AssetSelection.groups("ml")) == requests({ML[1:]: {"2026-11-08"}})
