"""What each partition reads is what Dagster's partition mappings say, and what the jobs read."""

from datetime import date, timedelta

import pytest

import dagster as dg
from meridian_assets.definitions import defs
from meridian_assets.lineage import needs, reads
from meridian_assets.partitions import START_DATE
from spark_jobs import customer_features, gps_features, route_features, traffic_features, weather_features

DAYS = ["2026-11-09", START_DATE]  # an ordinary day, and the first partition (windows clipped)

# The design, written out: each asset's inputs as (first, last) offsets from its day.
READS = {
    "gps_features": {"raw_gps_telemetry": (0, 0)},
    "route_features": {"raw_deliveries": (-28, 0)},
    "weather_features": {"raw_weather": (-1, 0)},
    "traffic_features": {"raw_traffic": (-1, 0)},
    "customer_features": {"raw_customers": (-1, -1), "raw_deliveries": (-28, -1)},
    "ml_feature_table": {"gps_features": (-1, -1), "route_features": (0, 0), "weather_features": (0, 0),
                         "traffic_features": (0, 0), "customer_features": (0, 0), "raw_deliveries": (0, 0)},
    "delivery_time_model": {"ml_feature_table": (-28, 0)},
    "deployed_model": {"delivery_time_model": (0, 0)},
}


def window(day: str, first: int, last: int) -> list[str]:
    d = date.fromisoformat(day)
    return [(d + timedelta(days=i)).isoformat() for i in range(first, last + 1)
            if (d + timedelta(days=i)).isoformat() >= START_DATE]


@pytest.fixture(scope="module")
def graph():
    return defs().resolve_asset_graph()


def test_every_asset_reads_the_partitions_dagster_maps_to_it(graph):
    """Each asset of the location, against Dagster's own parent partitions of its partition."""
    materializable = [k for k in graph.toposorted_asset_keys if graph.get(k).is_materializable]
    assert {k.to_user_string() for k in materializable if graph.get(k).parent_keys} >= set(READS)
    for key in materializable:
        for day in DAYS:
            dagster = {}
            for parent in graph.get_parents_partitions(key, day).parent_partitions:
                if graph.get(parent.asset_key).is_materializable:
                    dagster.setdefault(parent.asset_key, set()).add(parent.partition_key)
            assert {k: set(v) for k, v in reads(graph, key, day).items() if v} == dagster, (key, day)


def test_every_asset_reads_the_days_of_its_design(graph):
    for name, inputs in READS.items():
        for day in DAYS:
            expected = {dg.AssetKey(parent): window(day, *offsets) for parent, offsets in inputs.items()}
            assert reads(graph, dg.AssetKey(name), day) == expected, (name, day)


def test_the_feature_jobs_read_what_their_assets_map():
    """The Spark jobs take their days from the same windows: what they open is what lineage follows."""
    jobs = {"gps_features": gps_features, "route_features": route_features, "weather_features": weather_features,
            "traffic_features": traffic_features, "customer_features": customer_features}
    for name, job in jobs.items():
        opened = {source: (w.start_offset, w.end_offset) for source, w in job.INPUTS.items()}
        assert {f"raw_{s}" if s != "gps" else "raw_gps_telemetry": o for s, o in opened.items()} == READS[name]


def test_the_model_needs_only_its_holdout_day_of_the_window(graph):
    """Unfit training days are left out, not a reason to hold the model: it needs D's table alone."""
    day = DAYS[0]
    assert needs(graph, dg.AssetKey("delivery_time_model"), day) == {dg.AssetKey("ml_feature_table"): [day]}
    assert needs(graph, dg.AssetKey("ml_feature_table"), day) == reads(graph, dg.AssetKey("ml_feature_table"), day)
