"""The five Spark feature groups: thin assets over the pure jobs in spark_jobs/."""

from dataclasses import dataclass
from types import ModuleType

from dagster_pyspark import LazyPySparkResource

import dagster as dg
from meridian_assets import lake as lake_tables
from meridian_assets.contracts import FEATURES, SOURCES
from meridian_assets.lake import Lake
from meridian_assets.metadata import null_rates, readable
from meridian_assets.partitions import daily_partitions, mapping
from meridian_assets.code import source_version
from spark_jobs import columns, customer_features, gps_features, route_features, tables, traffic_features, weather_features
from spark_jobs.layout import days_between

# A lost executor or a JVM that ran out of memory is worth one more try; a bug is not, but
# cannot be told apart here, so the retries stay few and slow.
SPARK_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)

# The pod of each Spark step under the Kubernetes executor (MERIDIAN_EXECUTOR=k8s); the in-process
# executor ignores the tag. The pod holds the Spark driver: its 3g heap, what the JVM takes beyond
# it (3.2-3.6 GiB of RSS in all, docs/BENCHMARKS.md), the step's Python (~1 GiB) and headroom.
# With local[*] (deploy/k8s/values.yaml) it also runs the tasks, on as many cores as its CPU
# limit: 2, what SPARK_DEFAULTS are tuned for. Requests equal limits: the node reserves all of
# it, and memory pressure on the node evicts this pod last.
SPARK_POD = {"dagster-k8s/config": {"container_config": {"resources": {
    "requests": {"cpu": "2", "memory": "6Gi"},
    "limits": {"cpu": "2", "memory": "6Gi"},
}}}}


@dataclass(frozen=True)
class FeatureGroup:
    name: str
    job: ModuleType  # its INPUTS say which raw sources it reads, over which days
    entity: str
    description: str

    @property
    def deps(self) -> list[dg.AssetDep]:
        """The raw assets the job reads, each through the window the job reads it with."""
        return [dg.AssetDep(SOURCES[source].asset_name, partition_mapping=mapping(window))
                for source, window in self.job.INPUTS.items()]


GROUPS = (
    FeatureGroup(
        "gps", gps_features, "vehicle_id",
        "Per vehicle and day: pings, speeds, moving and idle shares, stops of 3+ minutes, distance "
        "driven, longest gap, hours covered. Deliveries use the previous day's row.",
    ),
    FeatureGroup(
        "route", route_features, "delivery_id",
        "Per delivery of day D: distance, stop sequence, stops on the route, scheduled minutes, "
        "departure hour, weekday; the route's mean delay over D-7..D-1, the vehicle's pace (actual over "
        "scheduled minutes) and the region's mean delay at the departure hour over D-28..D-1.",
    ),
    FeatureGroup(
        "weather", weather_features, "region",
        "Per region and hour of day D: temperature, precipitation, wind, visibility, condition, and "
        "the precipitation of the 3 hours before (reaching into D-1).",
    ),
    FeatureGroup(
        "traffic", traffic_features, "region",
        "Per region and hour of day D: congestion index and incidents, with the previous hour's.",
    ),
    FeatureGroup(
        "customer", customer_features, "customer_id",
        "Per customer as known before day D's dispatch: the D-1 snapshot (dock type, appointment, "
        "unload minutes), and its on-time rate and mean delay over D-28..D-1.",
    ),
)


def build_feature_asset(group: FeatureGroup) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{group.name}_features",
        description=group.description,
        group_name="features",
        partitions_def=daily_partitions,
        deps=group.deps,
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=SPARK_RETRY,
        pool="spark",
        op_tags=SPARK_POD,
        kinds={"spark", "parquet"},
        owners=["team:data-platform"],
        code_version=source_version(group.job, tables, columns),
        metadata={"dagster/column_schema": FEATURES[group.name].table_schema},
    )
    def feature_asset(context: dg.AssetExecutionContext, pyspark: LazyPySparkResource, lake: Lake):
        window = context.partition_key_range
        days = days_between(window.start, window.end)
        for source, reads in group.job.INPUTS.items():
            lake.read(lake_tables.RAW_TABLES[source], reads.days(window.start, window.end))
        # One Spark job for the whole range: a 30-day backfill is one read, one shuffle.
        stats = group.job.run(pyspark.spark_session, lake.path, window.start, window.end)
        lake.publish(group.job.TABLE, days)
        written = lake_tables.profile(lake.path, group.job.TABLE, days)
        return dg.MaterializeResult(
            metadata=readable({
                **lake_tables.written_metadata(lake, group.job.TABLE, stats["rows_per_day"]),
                "dagster/column_schema": FEATURES[group.name].table_schema,
                "distinct_entities": stats["distinct_entities"],
                **null_rates(written["null_fraction"]),
                "spark_seconds": stats["spark_seconds"],
            })
        )

    return feature_asset


feature_assets = [build_feature_asset(g) for g in GROUPS]
