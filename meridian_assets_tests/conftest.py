"""Session-wide fixtures: one Spark session and one dbt manifest for the whole run."""

from __future__ import annotations

import os

import pytest

# One OpenMP thread for scikit-learn's gradient boosting, here and in every process the tests
# start (runs, daemon, webserver): on the tests' few thousand rows a second thread only adds
# synchronisation, and while Spark or another process holds the other core the spinning threads
# made one training ~50x slower (60 s instead of 2 s). The model is the same either way: its
# histograms are per feature, so the thread count changes no number. Set before sklearn loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Every JVM the tests start (their Spark sessions, the runs' sessions, the standalone cluster)
# compiles with C1 only and collects with one thread: the tests' Spark jobs read a few thousand
# rows in JVMs that live seconds to minutes, where C2's compiler threads and a parallel collector
# cost more CPU than they ever win back (route and customer features' tests: 97 s of CPU with the
# JVM's defaults, 64 s with these). Production JVMs keep the defaults (docs/BENCHMARKS.md).
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

from meridian_assets_tests.s3 import moto_server  # noqa: E402 (after OMP_NUM_THREADS)
from spark_jobs.session import build_session  # noqa: E402


def pytest_configure(config):
    """`@dbt_assets` read the manifest at import: parse once, before test modules are collected.

    `prepare_if_dev()` does nothing outside `dagster dev`, and CI starts from a clean clone. Under
    pytest-xdist the controller parses, before it starts the workers, which only read the manifest.
    """
    if hasattr(config, "workerinput"):
        return
    from dbt.cli.main import dbtRunner

    from meridian_assets.dbt_project import DBT_PROJECT_DIR

    result = dbtRunner().invoke(
        ["parse", "--quiet", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    )
    if not result.success:
        raise pytest.UsageError(f"dbt parse failed: {result.exception}")


# The longest test: started first, so that it never runs alone at the end of the run.
LONG_POLE = "pipeline/test_daemon.py"


def pytest_collection_modifyitems(items):
    """The order `make test`'s two workers share (pytest-xdist worksteal: each takes half, in order,
    and an idle one takes from the other's end): the long pole first, then the tests that read
    the story's good history, then the others. The first worker builds the history (under its
    lock) while the second runs tests that need none of it, instead of waiting on the lock."""
    def rank(item) -> int:
        if item.path.as_posix().endswith(LONG_POLE):
            return 0
        return 1 if "good_history" in getattr(item, "fixturenames", ()) else 2
    items.sort(key=rank)  # stable: within a rank, collection order


@pytest.fixture(scope="session")
def spark():
    """The run's only SparkSession; PySparkResource's getOrCreate() returns this same one."""
    session = build_session("local[2]", "meridian-tests", {"spark.driver.memory": "2g"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3_endpoint():
    """One S3 API server for the run; each test uses buckets of its own."""
    with moto_server() as url:
        yield url
