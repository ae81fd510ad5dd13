"""The production profile's Spark: the feature groups, unchanged, on a Spark standalone cluster.

`scripts/spark_cluster.sh` starts a master and one worker (2 cores, 2g: one executor of Spark's
default 1g) on 127.0.0.1 from the venv's pyspark. Over a copy of the good history's raw tables
only, `dagster asset materialize` materializes the five feature groups for the last good day
with MERIDIAN_SPARK_MASTER pointing at the cluster, in its own process: a driver of its own, as
in production (this process already holds the test run's local SparkSession). The features
must equal, row for row, those the good history wrote in local mode, and the work must have
run on the cluster's executor: without it (MERIDIAN_SPARK_MASTER ignored, Spark on its default
local[*]) the run would succeed with the same rows and prove nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest

from meridian_assets.defs.features.assets import GROUPS
from meridian_assets_tests.pipeline.story import GOOD
from spark_jobs.layout import partition_dir

PROJECT = Path(__file__).resolve().parents[2]
CLUSTER = PROJECT / "scripts" / "spark_cluster.sh"
VENV_BIN = Path(sys.executable).parent
DAY = GOOD[-1]  # the days before it are in the copied raw tables: every window has its history
TABLES = [group.job.TABLE for group in GROUPS]  # each spark_jobs/*_features.py module's TABLE
RUN_TIMEOUT = 600


def _script(action: str, folder: Path, timeout: float, **env: str) -> subprocess.CompletedProcess:
    # Both cores of this machine for the one executor: the day's groups are computed in parallel.
    return subprocess.run(["bash", str(CLUSTER), action, str(folder)], capture_output=True, text=True,
                          timeout=timeout, check=False, env={**os.environ, "SPARK_WORKER_CORES": "2", **env})


def _listening(pidfile: Path) -> set[tuple[str, int]]:
    """The addresses a daemon's process group accepts connections on (Java's IPv4-mapped IPv6
    `::ffff:127.0.0.1` read as the IPv4 address it is)."""
    root = psutil.Process(int(pidfile.read_text()))
    return {(c.laddr.ip.removeprefix("::ffff:"), c.laddr.port) for p in [root, *root.children(recursive=True)]
            for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


@pytest.fixture()
def spark_cluster(tmp_path):
    """A master and a worker on 127.0.0.1, stopped (with the executors) whatever the test does."""
    folder = tmp_path / "cluster"
    try:
        started = _script("start", folder, timeout=240)
        assert started.returncode == 0, f"the cluster did not start:\n{started.stdout}\n{started.stderr}"
        yield folder
    finally:
        stopped = _script("stop", folder, timeout=120)
        assert stopped.returncode == 0, stopped.stderr


def _master_state(folder: Path) -> dict:
    with urllib.request.urlopen((folder / "master_webui_url").read_text().strip(), timeout=5) as response:
        return json.load(response)


def _materialize(args: list[str], env: dict, log: Path) -> int:
    """Run the command in its own process group; on timeout the group goes, its Spark JVM too."""
    with log.open("w") as out:
        process = subprocess.Popen(args, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            return process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"the cluster run took over {RUN_TIMEOUT} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _sorted_frame(folder: Path) -> pd.DataFrame:
    frame = pd.read_parquet(folder)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_feature_groups_on_a_standalone_cluster_equal_local_mode(good_history, spark_cluster, tmp_path):
    assert len(TABLES) == 5
    lake = tmp_path / "lake"
    shutil.copytree(good_history / "lake" / "raw", lake / "raw")  # raw only: every feature is recomputed
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    master_url = (spark_cluster / "master_url").read_text().strip()
    assert master_url.startswith("spark://127.0.0.1:")
    # The master's RPC port and its web UI, on loopback; no REST submission server (Spark's 6066).
    webui = int((spark_cluster / "master_webui_url").read_text().strip().rsplit(":", 1)[1].split("/")[0])
    assert _listening(spark_cluster / "master.pid") == {("127.0.0.1", int(master_url.rsplit(":", 1)[1])),
                                                        ("127.0.0.1", webui)}

    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith(("MERIDIAN_", "PYSPARK_", "SPARK_")) and k != "DAGSTER_HOME"}
    env = {
        **inherited,
        "MERIDIAN_SPARK_MASTER": master_url,
        "MERIDIAN_LAKE": str(lake),
        "MERIDIAN_LANDING": str(good_history / "landing"),
        "DAGSTER_HOME": str(home),
        # Python workers on the executors (none today: the jobs use no Python UDF) run this.
        "PYSPARK_PYTHON": sys.executable,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(VENV_BIN.parent),
        # The driver listens for its executors on 127.0.0.1 only, as the cluster does.
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_DIRS": str(tmp_path / "driver_local"),
    }
    log = tmp_path / "materialize.log"
    started = time.monotonic()
    code = _materialize(
        [str(VENV_BIN / "dagster"), "asset", "materialize", "-m", "meridian_assets.definitions",
         "--select", "group:features", "--partition", DAY], env, log)
    seconds = time.monotonic() - started
    print(f"five feature groups for {DAY} on {master_url}: {seconds:.0f} s")
    assert code == 0, f"dagster asset materialize exited {code}:\n{_tail(log)}"
    assert "RUN_SUCCESS" in log.read_text()

    # The work ran on the cluster's executor: the worker launched one for an application (its
    # stderr holds the tasks it ran), and the master lists that application as finished.
    executor_logs = sorted((spark_cluster / "work").glob("app-*/*/stderr"))
    assert executor_logs, "no executor ran on the worker: was MERIDIAN_SPARK_MASTER ignored?"
    assert any("Running task" in p.read_text(errors="replace") for p in executor_logs), executor_logs
    app_ids = {p.parent.parent.name for p in executor_logs}
    deadline = time.monotonic() + 30  # the master marks the app finished once the driver is gone
    while not app_ids <= {a["id"] for a in _master_state(spark_cluster)["completedapps"]}:
        assert time.monotonic() < deadline, f"the master lists no finished application {app_ids}"
        time.sleep(1)
    state = _master_state(spark_cluster)
    assert not state["activeapps"], state["activeapps"]

    # Same rows and schema as local mode. Exact: the cluster's one executor reads the same file
    # splits (spark.default.parallelism and spark.sql.shuffle.partitions are fixed in
    # SPARK_DEFAULTS, not taken from the cores) and sums them in the same order.
    for table in TABLES:
        local = _sorted_frame(partition_dir(good_history / "lake", table, DAY))
        cluster = _sorted_frame(partition_dir(lake, table, DAY))
        assert len(local) > 0, table
        schema = pq.read_table(partition_dir(lake, table, DAY)).schema
        assert schema.equals(pq.read_table(partition_dir(good_history / "lake", table, DAY)).schema), table
        pd.testing.assert_frame_equal(cluster, local, check_exact=True, obj=table)


def test_a_busy_master_port_is_an_error_not_a_move_to_the_next_one(tmp_path):
    """Spark would otherwise bind the next port up and the URL the script writes would be wrong."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        folder = tmp_path / "cluster"
        try:
            started = _script("start", folder, timeout=240, SPARK_MASTER_PORT=str(port), SPARK_CLUSTER_TIMEOUT="60")
        finally:
            _script("stop", folder, timeout=120)
    assert started.returncode == 1, started.stdout
    assert "the master exited" in started.stderr and f"{port}" in started.stderr, started.stderr
    assert not (folder / "master_url").exists()
    assert not (folder / "master.pid").exists() and not (folder / "worker.pid").exists(), "both daemons stopped"
