"""dagster-daemon in its own process group over a private DAGSTER_HOME, for the tests that
need nobody to type a command (the story's daemon test, the PostgreSQL instance's)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES
from meridian_assets_tests.webhook import Webhook

PROJECT = Path(__file__).resolve().parents[1]


class Daemon:
    """dagster-daemon on a private DAGSTER_HOME; the test reads the same instance."""

    def __init__(self, root: Path, webhook: Webhook):
        self.root = root
        self.log = root / "daemon.log"
        env = {
            **os.environ,
            "DAGSTER_HOME": str(root / "dagster_home"),
            "MERIDIAN_LANDING": str(root / "landing"),
            "MERIDIAN_LAKE": str(root / "lake"),
            "MERIDIAN_SPARK_MASTER": "local[2]",
            "MERIDIAN_ALERT_WEBHOOK": webhook.url,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        }
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(PROJECT / "workspace.yaml")],
            cwd=PROJECT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.instance = dg.DagsterInstance.from_config(str(root / "dagster_home"))

    def wait_for(self, what: str, done, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self.process.poll() is not None:
                pytest.fail(f"dagster-daemon exited ({self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                runs = [(r.run_id[:8], r.status.value, r.tags.get("dagster/partition")) for r in self.instance.get_runs()]
                pytest.fail(f"timed out waiting for {what}; runs {runs}\n{self.tail()}")
            time.sleep(2)

    def idle(self) -> bool:
        return not self.instance.get_run_records(dg.RunsFilter(statuses=NOT_FINISHED_STATUSES), limit=1)

    def tail(self) -> str:
        return "\n".join(self.log.read_text().splitlines()[-40:])

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.instance.dispose()
