"""Alerts and freshness on a real instance: runs made cheaply (watch.py), the alert sensor ticked
as the daemon would, and a local webhook that records what it is sent."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import dagster as dg
from dagster._core.events import DagsterEvent
from dagster._core.test_utils import freeze_time
from dagster._daemon.monitoring.run_monitoring import check_run_timeout

from meridian_assets import thresholds
from meridian_assets.defs.automation.alerts import GATE, WEBHOOK_ENV, alert_sensors
from meridian_assets.defs.automation.freshness import freshness_checks, freshness_sensor
from meridian_assets.defs.ml import store
from meridian_assets.defs.ml.provenance import trained_on_current_data
from meridian_assets.guard import FORCE_BY_TAG, FORCE_REASON_TAG, FORCE_TAG
from meridian_assets.lake import CONTENT_VERSIONS, Lake
from meridian_assets.lineage import held_downstream
from meridian_assets.partitions import day_ranges, waiting_lines
from meridian_assets.partitions import daily_partitions
from meridian_assets_tests.automation.watch import (
    DAY, GPS, GPS_DAY_WAITING, INSTANCE_YAML, NOW, REPOSITORY, Watch, assert_links, drop, make_instance, run,
)


def test_the_location_runs_the_alert_and_freshness_sensors_from_the_start():
    running = {s.name for s in REPOSITORY.sensor_defs if s.default_status == dg.DefaultSensorStatus.RUNNING}
    assert {s.name for s in [*alert_sensors, freshness_sensor]} <= running
    assert {k for c in freshness_checks for k in c.check_keys} <= REPOSITORY.asset_graph.asset_check_keys


def test_what_waits_follows_the_mappings_up_to_the_last_partition():
    graph = REPOSITORY.asset_graph
    with freeze_time(NOW):
        gps = held_downstream(graph, [GPS], [DAY])
        deliveries = held_downstream(graph, [dg.AssetKey("raw_deliveries")], ["2026-11-22"])
    assert waiting_lines(gps) == GPS_DAY_WAITING
    # Route delays read D-7..D, customers D-28..D-1: only the days up to 2026-11-24 exist.
    assert day_ranges(deliveries[dg.AssetKey("route_features")]) == "2026-11-22..2026-11-24"
    assert day_ranges(deliveries[dg.AssetKey("customer_features")]) == "2026-11-23..2026-11-24"
    assert day_ranges(["2026-11-01", "2026-11-02", "2026-11-04"]) == "2026-11-01..2026-11-02, 2026-11-04"


def test_a_bad_drop_is_one_check_alert_not_also_a_run_failure(tmp_path, instance, watch):
    drop(tmp_path, gps_outside_day=True)
    result = run(tmp_path, instance, dg.AssetSelection.assets(GPS))
    assert not result.success  # the blocking check failed the run

    (message,) = watch.tick()
    text = message["text"]
    assert text.startswith(f":x: Check failed: raw_gps_telemetry {DAY}")
    assert "times_in_partition_day: 1 vs threshold 0" in text
    assert all(line in text for line in GPS_DAY_WAITING)
    assert_links(message, result.run_id)
    assert watch.tick() == []


def test_a_failed_step_alerts_with_its_error_and_what_waits(tmp_path, instance, watch):
    drop(tmp_path, complete=False)
    result = run(tmp_path, instance, dg.AssetSelection.assets(GPS))
    assert not result.success

    (message,) = watch.tick()
    text = message["text"]
    assert text.startswith(f":rotating_light: Run failed: raw_gps_telemetry {DAY}")
    assert "step raw_gps_telemetry: " in text and "incomplete drop: no _SUCCESS sentinel" in text
    assert all(line in text for line in GPS_DAY_WAITING)
    assert_links(message, result.run_id)
    assert watch.tick() == []


def test_a_forced_run_tells_who_and_why(tmp_path, instance, watch):
    drop(tmp_path)
    tags = {FORCE_TAG: "true", FORCE_BY_TAG: "ana.lopez", FORCE_REASON_TAG: "vendor confirmed the late file"}
    result = run(tmp_path, instance, dg.AssetSelection.assets(GPS), tags=tags)
    assert result.success

    (message,) = watch.tick()
    assert message["text"].startswith(f":warning: Checks overridden by ana.lopez: raw_gps_telemetry {DAY}")
    assert "why: vendor confirmed the late file" in message["text"]
    assert_links(message, result.run_id)
    assert watch.tick() == []


def test_warn_results_never_alert_and_a_non_blocking_error_does(tmp_path, instance, watch):
    @dg.asset_check(asset=GPS, name="looks_odd", partitions_def=daily_partitions)
    def warn_check() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, metadata={"value": 3, "threshold": 1})

    @dg.asset_check(asset=GPS, name="counts_differ", partitions_def=daily_partitions)
    def error_check() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, description="120 pings, 80 expected")

    result = run(tmp_path, instance, dg.AssetSelection.checks(warn_check, error_check), extra=[warn_check, error_check])
    assert result.success  # neither blocks

    (message,) = watch.tick()
    assert message["text"].startswith(f":x: Check failed: raw_gps_telemetry {DAY}\ncounts_differ: 120 pings, 80 expected\n")
    assert "looks_odd" not in message["text"]


def test_a_held_model_is_one_notice_and_no_failure(tmp_path, instance, watch):
    lake = Lake(root=str(tmp_path / "lake"))
    deployed = {"trained_on": {"first": "2026-10-20", "last": "2026-11-18"}, "holdout": "2026-11-19",
                "metrics": {"mae": 12.5, "baseline_mae": 20.0, "deployed_mae_on_holdout": None}}
    store.save_version(lake, "2026-11-19-prod", None, deployed)
    store.promote(lake, "2026-11-19-prod")
    candidate = {**deployed, "holdout": DAY, "metrics": {
        "mae": 14.0, "baseline_mae": 20.0, "deployed_mae_on_holdout": 12.5,
        "vs_deployed": {"difference": 1.5, "low": 0.9, "high": 2.1, "confidence": 0.95}}}
    store.save_version(lake, "2026-11-20-cand", None, candidate)
    instance.report_runless_asset_event(
        dg.AssetMaterialization("delivery_time_model", partition=DAY, metadata={"version": "2026-11-20-cand"}))
    result = run(tmp_path, instance, dg.AssetSelection.checks(GATE))
    assert result.success, "a held candidate is a decision, not a failed run"

    (message,) = watch.tick()
    limit = thresholds.GATE_BASELINE_RATIO * 20.0
    assert message["text"].startswith(
        f":information_source: Model held for {DAY}: candidate 2026-11-20-cand held, deployed model 2026-11-19-prod "
        f"stays, MAE 14.00 vs 12.50 (limit {limit:.2f})")
    assert "Waiting downstream: nothing\n" in message["text"], "deployed_model records the model kept"
    assert_links(message, result.run_id)
    assert watch.tick() == []


def test_a_stale_model_is_one_notice_naming_the_days_that_changed(tmp_path, instance, watch):
    """trained_on_current_data compares the days the deployed model learned from with what
    ml_feature_table's latest materializations recorded: a WARN, and one notice."""
    lake = Lake(root=str(tmp_path / "lake"))
    days = ["2026-11-17", "2026-11-18", "2026-11-19"]
    store.save_version(lake, "2026-11-19-prod", None, {
        "trained_on": {"first": days[0], "last": days[1], "days": days[:2]}, "holdout": days[2],
        "metrics": {"mae": 12.5, "baseline_mae": 20.0}, "inputs": dict.fromkeys(days, "v1"), "code_version": "c1"})
    store.promote(lake, "2026-11-19-prod")

    def materialize_ml_table(versions: list[str]):
        for day, version in zip(days, versions):
            instance.report_runless_asset_event(dg.AssetMaterialization(
                "ml_feature_table", partition=day, metadata={CONTENT_VERSIONS: dg.MetadataValue.json({day: version})}))
        return run(tmp_path, instance, dg.AssetSelection.checks(trained_on_current_data), day=None)

    unchanged = materialize_ml_table(["v1", "v1", "v1"])  # the same data written again
    assert unchanged.success and unchanged.get_asset_check_evaluations()[0].passed
    assert watch.tick() == []

    result = materialize_ml_table(["v1", "v2", "v1"])
    assert result.success, "a stale model is a WARN: the run is green"
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["changed_days"].value == {"2026-11-18": {"trained_on": "v1", "now": "v2"}}
    (message,) = watch.tick()
    assert message["text"].startswith(
        ":warning: Model stale: deployed model 2026-11-19-prod was trained on ml_feature_table days that changed "
        "since: 2026-11-18\n2026-11-19-prod was trained on data that has changed since: ml_feature_table "
        "2026-11-18 (version v1 -> v2)")
    assert "Waiting downstream: nothing\n" in message["text"]
    assert_links(message, result.run_id)


def test_freshness_passes_on_time_fails_when_late_and_alerts_once(tmp_path, instance, watch):
    assert not any(spec.blocking for c in freshness_checks for spec in c.check_specs)
    request = freshness_sensor(dg.build_sensor_context(instance=instance))
    assert set(request.asset_check_keys) == {key for c in freshness_checks for key in c.check_keys}

    def check(hour: int, minute: int) -> list[bool]:
        with freeze_time(datetime(2026, 11, 25, hour, minute, tzinfo=timezone.utc)):
            result = run(tmp_path, instance, dg.AssetSelection.checks(*freshness_checks), day=None, extra=freshness_checks)
        assert result.success  # freshness blocks nothing
        return [e.passed for e in result.get_asset_check_evaluations()]

    def arrive(day: str) -> None:
        for asset in ("raw_gps_telemetry", "ml_feature_table"):
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=day))

    arrive("2026-11-23")
    assert check(2, 30) == [True, True]  # 2026-11-24 is not due before 03:00
    assert check(3, 30) == [False, False]
    messages = {m["text"].split("\n")[0]: m["text"] for m in watch.tick()}
    assert set(messages) == {f":hourglass: Late: {asset} 2026-11-24 was not materialized by 2026-11-25 03:00 UTC"
                             for asset in ("raw_gps_telemetry", "ml_feature_table")}
    late_table = messages[":hourglass: Late: ml_feature_table 2026-11-24 was not materialized by 2026-11-25 03:00 UTC"]
    assert "Waiting downstream: delivery_time_model 2026-11-24; deployed_model 2026-11-24\n" in late_table

    # Checked again for the same deadline (a run of the asset re-runs it): told once.
    assert check(3, 45) == [False, False]
    assert watch.tick() == []

    arrive("2026-11-24")
    assert check(3, 50) == [True, True]
    assert watch.tick() == []


def test_webhook_down_retries_next_tick_and_never_resends(tmp_path, instance, webhook, watch):
    drop(tmp_path, gps_outside_day=True)
    (tmp_path / "landing" / "weather" / DAY / "_SUCCESS").unlink()
    result = run(tmp_path, instance, dg.AssetSelection.assets(GPS, "raw_weather"))  # two alerts: GPS checks, weather step
    assert not result.success

    webhook.stop()  # the port is closed
    assert watch.tick() == []
    webhook.start()
    webhook.answers = [200, 500]  # the first alert goes through, the second fails
    (first,) = watch.tick()
    (second,) = watch.tick()
    assert first["text"].startswith(":x: Check failed: raw_gps_telemetry")
    assert second["text"].startswith(f":rotating_light: Run failed: raw_weather {DAY}")
    assert "step raw_weather: " in second["text"]
    assert "ml_feature_table 2026-11-20" in second["text"]  # weather of D feeds the ml table of D
    assert watch.tick() == []


def test_without_a_webhook_alerts_are_logged_and_count_as_delivered(tmp_path, instance, webhook, watch, monkeypatch,
                                                                    capsys):
    monkeypatch.delenv(WEBHOOK_ENV)
    drop(tmp_path, complete=False)
    run(tmp_path, instance, dg.AssetSelection.assets(GPS))
    capsys.readouterr()
    assert watch.tick() == []
    assert f"{WEBHOOK_ENV} is not set; alert:\n:rotating_light: Run failed: raw_gps_telemetry {DAY}" in capsys.readouterr().err
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    assert watch.tick() == []


def test_a_run_past_its_maximum_runtime_is_failed_and_alerted(instance, watch):
    """What the daemon's run monitoring does each iteration to a started run, on dagster.yaml's limit."""
    job = REPOSITORY.get_implicit_global_asset_job_def().get_subset(asset_selection={GPS})
    hung = instance.create_run_for_job(job, asset_selection=frozenset({GPS}), tags={"dagster/partition": DAY})
    started = time.time() - instance.run_monitoring_max_runtime_seconds - 60
    instance.report_dagster_event(DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=hung.job_name),
                                  hung.run_id, timestamp=started)
    check_run_timeout(instance, instance.get_run_record_by_id(hung.run_id), logging.getLogger(__name__),
                      float(instance.run_monitoring_max_runtime_seconds))
    assert instance.get_run_by_id(hung.run_id).status == dg.DagsterRunStatus.FAILURE

    (message,) = watch.tick()
    assert message["text"].startswith(f":rotating_light: Run failed: raw_gps_telemetry {DAY}")
    assert f"exceeding maximum runtime of {INSTANCE_YAML['run_monitoring']['max_runtime_seconds']} seconds" in message["text"]
    assert all(line in message["text"] for line in GPS_DAY_WAITING)
    assert_links(message, hung.run_id)
    assert watch.tick() == []


def test_a_run_the_daemon_will_retry_waits_for_its_last_attempt(tmp_path, webhook):
    with make_instance(tmp_path, "run_retries") as instance:
        watch = Watch(instance, webhook)
        drop(tmp_path, complete=False)
        # dagster.yaml retries no step failure; the tag asks for it, as for a run whose process died.
        retried = run(tmp_path, instance, dg.AssetSelection.assets(GPS),
                      tags={"dagster/retry_on_asset_or_op_failure": "true"})
        assert instance.get_run_by_id(retried.run_id).tags["dagster/will_retry"] == "true"
        assert watch.tick() == []
        last = run(tmp_path, instance, dg.AssetSelection.assets(GPS), tags={"dagster/max_retries": "0"})
        (message,) = watch.tick()
        assert_links(message, last.run_id)
