"""dagster-daemon in its own process group over a private DAGSTER_HOME, for the tests that
need nobody to type a command (the story's daemon test, the PostgreSQL instance's)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import dagster as dg
from dagster._core.definitions.run_request import InstigatorType
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
            # Sensors tick every 10 s instead of 20-60 s: the same decisions, sooner. Not 5: each
            # tick of the five sensors costs the code server CPU that the other tests need.
            "MERIDIAN_SENSOR_INTERVAL_SECONDS": "10",
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

    def busy(self) -> list[str]:
        """The runs not finished: id, status, partition and assets, for a failure to name."""
        return [f"{r.run_id[:8]} {r.status.value} {r.tags.get('dagster/partition')} "
                f"{sorted(k.to_user_string() for k in r.asset_selection or ())}"
                for r in self.instance.get_runs(dg.RunsFilter(statuses=NOT_FINISHED_STATUSES))]

    def idle(self) -> bool:
        return not self.busy()

    def ticked_after(self, sensors: set[str], moment: float) -> bool:
        """Whether each of `sensors` has finished a tick that started after `moment` (time.time())."""
        finished = set()
        for state in self.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            ticks = self.instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
            if ticks and ticks[0].timestamp > moment and ticks[0].end_timestamp:
                finished.add(state.instigator_name)
        return sensors <= finished

    def tail(self) -> str:
        return "\n".join(self.log.read_text().splitlines()[-40:])

    def kill(self) -> None:
        """The daemon's own process dies at once (SIGKILL); the runs its code server started go on."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        """The whole process group (the daemon, its code server, their runs), even after kill()."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + 30
            while self._group() and time.monotonic() < deadline:
                self.process.poll()
                time.sleep(0.2)
            if not self._group():
                break
        self.process.wait()
        self.instance.dispose()

    def _group(self) -> list[psutil.Process]:
        """The live processes of the daemon's process group (zombies left by a killed parent are not)."""
        alive = []
        for process in psutil.process_iter(["status"]):
            try:
                if os.getpgid(process.pid) == self.process.pid and process.info["status"] != psutil.STATUS_ZOMBIE:
                    alive.append(process)
            except (ProcessLookupError, psutil.Error):
                continue
        return alive
