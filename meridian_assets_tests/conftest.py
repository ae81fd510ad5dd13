"""Session-wide fixtures: one Spark session and one dbt manifest for the whole run."""

from __future__ import annotations

import pytest

from spark_jobs.common import build_session


@pytest.fixture(scope="session")
def spark():
    """The run's only SparkSession; PySparkResource's getOrCreate() returns this same one."""
    session = build_session("local[2]", "meridian-tests", {"spark.driver.memory": "2g"})
    yield session
    session.stop()
