"""The alert tests' instance, webhook and sensor watch (meridian_assets_tests/automation/watch.py)."""

from __future__ import annotations

import pytest

from meridian_assets.defs.automation.alerts import WEBHOOK_ENV
from meridian_assets.metadata import UI_ENV
from meridian_assets_tests.automation.watch import UI, Watch, make_instance
from meridian_assets_tests.webhook import Webhook


@pytest.fixture()
def webhook(monkeypatch):
    hook = Webhook()
    hook.start()
    monkeypatch.setenv(WEBHOOK_ENV, hook.url)
    monkeypatch.setenv(UI_ENV, UI + "/")
    yield hook
    hook.stop()


@pytest.fixture()
def instance(tmp_path):
    with make_instance(tmp_path, "run_monitoring") as instance:
        yield instance


@pytest.fixture()
def watch(instance, webhook):
    return Watch(instance, webhook)
