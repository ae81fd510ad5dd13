"""The five Spark feature groups: thin assets over the pure jobs in spark_jobs/."""

from dataclasses import dataclass
from types import ModuleType

from dagster_pyspark import LazyPySparkResource

import dagster as dg
from meridian_assets import lake as lake_tables
from meridian_assets.contracts import FEATURES
from meridian_assets.defs.resources import Lake
from meridian_assets.partitions import (
    daily_partitions,
    day_and_previous_7_days,
    previous_28_days,
    previous_day,
    same_and_previous_day,
)
from spark_jobs import customer_features, gps_features, route_features, traffic_features, weather_features
from spark_jobs.common import days_between

# A lost executor or a JVM that ran out of memory is worth one more try; a bug is not, but
# cannot be told apart here, so the retries stay few and slow.
SPARK_RETRY = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@dataclass(frozen=True)
class FeatureGroup:
    name: str
    job: ModuleType
    entity: str
    upstream: tuple[tuple[str, dg.PartitionMapping | None], ...]
    description: str


GROUPS = (
    FeatureGroup(
        "gps", gps_features, "vehicle_id", (("raw_gps_telemetry", None),),
        "Per vehicle and day: pings, speeds, moving and idle shares, stops of 3+ minutes, distance "
        "driven, longest gap, hours covered. Deliveries use the previous day's row.",
    ),
    FeatureGroup(
        "route", route_features, "delivery_id", (("raw_deliveries", day_and_previous_7_days),),
        "Per delivery of day D: distance, stop sequence, stops on the route, scheduled minutes, "
        "departure hour, weekday, and the route's mean delay over D-7..D-1.",
    ),
    FeatureGroup(
        "weather", weather_features, "region", (("raw_weather", same_and_previous_day),),
        "Per region and hour of day D: temperature, precipitation, wind, visibility, condition, and "
        "the precipitation of the 3 hours before (reaching into D-1).",
    ),
    FeatureGroup(
        "traffic", traffic_features, "region", (("raw_traffic", same_and_previous_day),),
        "Per region and hour of day D: congestion index and incidents, with the previous hour's.",
    ),
    FeatureGroup(
        "customer", customer_features, "customer_id",
        (("raw_customers", previous_day), ("raw_deliveries", previous_28_days)),
        "Per customer as known before day D's dispatch: the D-1 snapshot (dock type, appointment, "
        "unload minutes) and the on-time rate over D-28..D-1.",
    ),
)


def build_feature_asset(group: FeatureGroup) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{group.name}_features",
        description=group.description,
        group_name="features",
        partitions_def=daily_partitions,
        deps=[dg.AssetDep(key, partition_mapping=mapping) for key, mapping in group.upstream],
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=SPARK_RETRY,
        pool="spark",
        kinds={"spark", "parquet"},
        owners=["team:data-platform"],
        metadata={"dagster/column_schema": FEATURES[group.name].table_schema},
    )
    def feature_asset(context: dg.AssetExecutionContext, pyspark: LazyPySparkResource, lake: Lake):
        window = context.partition_key_range
        # One Spark job for the whole range: a 30-day backfill is one read, one shuffle.
        stats = group.job.run(pyspark.spark_session, lake.path, window.start, window.end)
        written = lake_tables.profile(lake.path, group.job.TABLE, days_between(window.start, window.end))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": written["rows"],
                "dagster/column_schema": FEATURES[group.name].table_schema,
                "distinct_entities": stats["distinct_entities"],
                "rows_per_day": dg.MetadataValue.json(stats["rows_per_day"]),
                "null_fraction": dg.MetadataValue.json({k: round(v, 4) for k, v in written["null_fraction"].items()}),
                "spark_seconds": stats["spark_seconds"],
                "path": dg.MetadataValue.path(str(lake.path / group.job.TABLE)),
            }
        )

    return feature_asset


feature_assets = [build_feature_asset(g) for g in GROUPS]
