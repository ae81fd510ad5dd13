"""Nobody types a command: a real `dagster-daemon` over a copy of the eight good days.

A good day written to the landing zone during the test is ingested (landing sensor), flows
through features, the ml table and training (declarative automation) and is deployed, with no
alert. A stale GPS drop for the next day fails its checks: exactly one alert, and nothing is
trained or deployed for it. The daemon runs with the project's dagster.yaml and workspace.yaml,
in its own process group, stopped at the end.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

import dagster as dg
from meridian_assets.defs.automation.alerts import alert_sensor
from meridian_assets.defs.automation.conditions import automation_sensor
from meridian_assets.defs.resources import SENTINEL
from meridian_assets.synthetic import write_day
from meridian_assets_tests.daemon import PROJECT, Daemon
from meridian_assets_tests.pipeline.story import BAD_DAY, NEXT_DAY, SEED, VEHICLES
from meridian_assets_tests.webhook import Webhook

DEPLOYED = dg.AssetKey("deployed_model")
GOOD_DAY, STALE_DAY = BAD_DAY, NEXT_DAY  # here day 9 arrives good; day 10's GPS is a copy of day 9's


@pytest.fixture()
def platform(good_history, tmp_path):
    root = tmp_path / "copy"
    for part in ("lake", "dagster_home"):
        shutil.copytree(good_history / part, root / part)
    shutil.copy(PROJECT / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    (root / "landing").mkdir()
    # Nothing deployed yet: whether day 9's candidate beats the model of day 8 on one day's
    # holdout is the gate's business (tested in test_bad_days.py), not the automation's.
    (root / "lake" / "models" / "deployed.json").unlink()
    webhook = Webhook()
    webhook.start()
    daemon = Daemon(root, webhook)
    yield root, daemon, webhook
    daemon.stop()
    webhook.stop()


def alerts_about(webhook: Webhook, day: str) -> list[str]:
    return [json.dumps(message) for message in webhook.received if day in json.dumps(message)]


def test_a_written_day_reaches_deployment_and_a_bad_one_alerts_once(platform):
    root, daemon, webhook = platform

    write_day(root / "landing", GOOD_DAY, vehicles=VEHICLES, seed=SEED)
    daemon.wait_for(f"deployed_model {GOOD_DAY}",
                    lambda: GOOD_DAY in daemon.instance.get_materialized_partitions(DEPLOYED), timeout=540)
    pointer = json.loads((root / "lake" / "models" / "deployed.json").read_text())
    assert pointer["holdout"] == GOOD_DAY
    runs = daemon.instance.get_runs()
    assert [r for r in runs if r.tags.get("meridian/trigger") == "landing"], "ingested by the landing sensor"
    assert [r for r in runs if r.tags.get("dagster/from_automation_condition")], "followed by automation"
    assert alerts_about(webhook, GOOD_DAY) == [], "a good day raises no alert"

    # The GPS vendor delivers yesterday's file again as today's.
    stale = root / "landing" / "gps" / STALE_DAY
    shutil.copytree(root / "landing" / "gps" / GOOD_DAY, stale)
    (stale / SENTINEL).touch()
    daemon.wait_for(f"an alert about {STALE_DAY}", lambda: alerts_about(webhook, STALE_DAY), timeout=240)
    daemon.wait_for("no run in progress", daemon.idle, timeout=120)
    settled = time.time()
    # Another tick of the alert sensor and of automation after the last run: nothing may follow.
    daemon.wait_for("an alert and an automation tick", lambda: daemon.ticked_after(
        {alert_sensor.name, automation_sensor.name}, settled), timeout=120)
    assert daemon.busy() == [], "automation started nothing for the stale day"
    (alert,) = alerts_about(webhook, STALE_DAY)
    assert "raw_gps_telemetry" in alert
    assert STALE_DAY not in daemon.instance.get_materialized_partitions(dg.AssetKey("delivery_time_model"))
    assert STALE_DAY not in daemon.instance.get_materialized_partitions(DEPLOYED)
    assert json.loads((root / "lake" / "models" / "deployed.json").read_text()) == pointer
