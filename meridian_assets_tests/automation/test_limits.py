"""The limits the instance enforces, read back from the project's dagster.yaml as Dagster loads it,
and the pools each writer is in. (The maximum run time failing a run: test_alerts.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import dagster as dg
from meridian_assets.definitions import defs

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_one_run_per_partition_and_a_bounded_queue(instance):
    queue = instance.get_concurrency_config().run_queue_config
    assert queue.max_concurrent_runs == 4
    (limit,) = queue.tag_concurrency_limits
    assert limit == {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


def test_pools_bound_spark_and_the_dbt_writer_across_runs(instance):
    pools = instance.get_concurrency_config().pool_config
    assert pools.default_pool_limit == 1
    assert pools.pool_granularity.value == "op"
    graph = defs().resolve_asset_graph()
    by_pool: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        for pool in graph.get(key).pools or ():
            by_pool.setdefault(pool, set()).add(key.to_user_string())
    assert by_pool["spark"] == {"gps_features", "route_features", "weather_features", "traffic_features",
                                "customer_features"}
    assert by_pool["duckdb"] == {"ml_feature_table"}
    assert by_pool["model_store"] == {"deployed_model"}  # deployed.json moves one decision at a time


def test_a_run_lasts_at_most_two_hours(instance):
    assert instance.run_monitoring_enabled
    assert instance.run_monitoring_max_runtime_seconds == 2 * 3600


def test_run_retries_never_repeat_a_failed_check(instance):
    """A run that failed on a check (or any step error) is not re-run: the step's own retry
    policy covers transient errors; run retries cover a run whose process died."""
    assert instance.run_retries_enabled
    assert not instance.run_retries_retry_on_asset_or_op_failure
