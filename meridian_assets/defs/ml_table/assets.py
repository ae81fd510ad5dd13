"""ml_feature_table: dbt joins the feature groups point in time; Python publishes the days."""

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from meridian_assets.dbt_project import meridian_dbt_project
from meridian_assets.contracts import FEATURES
from meridian_assets.lake import (
    CONTENT_VERSIONS, RAW_TABLES, Lake, checked_location, content_version, profile, write_partition, written_metadata,
)
from meridian_assets.metadata import column_schema, null_rates, readable
from meridian_assets.partitions import daily_partitions, mapping, not_a_partition
from meridian_assets.quality import newest_materializations, on_their_days
from spark_jobs.layout import PREVIOUS_DAY, SAME_DAY, days_between

ML_TABLE = "ml_feature_table"
LAKE_TABLE_NAME = f"lake.{ML_TABLE}"  # {lake}/ml_feature_table/date=D/, what every reader opens

# A delivery sees its vehicle's GPS behaviour of the day before, never of its own day; the
# dbt build reads and joins that day through the same window (`dbt_environment`).
GPS_WINDOW = PREVIOUS_DAY
UPSTREAM_MAPPINGS = {dg.AssetKey("gps_features"): mapping(GPS_WINDOW)}
# The lake tables the build reads (dbt_project/models/sources.yml) and the days of each.
DBT_READS = {RAW_TABLES["deliveries"]: SAME_DAY,
             **{f"features/{name}": GPS_WINDOW if name == "gps" else SAME_DAY for name in FEATURES}}


class MeridianDbtTranslator(DagsterDbtTranslator):
    """dbt models in group ml_ready; sources keep the keys of the assets that write them."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if not unique_id.startswith("model."):
            return spec
        return spec.replace_attributes(
            group_name="ml_ready",
            owners=["team:data-platform"],
            deps=[
                dg.AssetDep(dep.asset_key, partition_mapping=UPSTREAM_MAPPINGS.get(dep.asset_key))
                for dep in spec.deps
            ],
        ).merge_attributes(kinds={"duckdb"}, metadata={"dagster/table_name": LAKE_TABLE_NAME})

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project) -> dg.AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        # Partitioned like the model they test: each result lands on the partitions the build judged.
        return spec._replace(description=describe_dbt_test(manifest["nodes"][unique_id]),
                             partitions_def=daily_partitions)


def describe_dbt_test(node: Mapping[str, Any]) -> str:
    """A sentence for the checks tab: the test's own description, else its kind and column."""
    if node.get("description"):
        return node["description"]
    meta = node.get("test_metadata") or {}
    kwargs, column = meta.get("kwargs", {}), meta.get("kwargs", {}).get("column_name")
    return {
        "unique": f"dbt test: no two rows share a {column}.",
        "not_null": f"dbt test: {column} is never null.",
        "accepted_values": f"dbt test: {column} is one of {', '.join(map(str, kwargs.get('values', [])))}.",
        "relationships": f"dbt test: every {column} exists in {kwargs.get('to', 'its parent')}.",
    }.get(meta.get("name"), f"dbt test {node.get('name')}.")


def dbt_environment(start: str, end: str, lake: Path, output: Path) -> dict[str, str]:
    """The partition window and locations for one build (dbt_project/macros/run_var.sql): in the
    environment, not --vars, so dbt re-parses only the files that read them.

    dbt pastes each value into SQL string literals: a value that is not a day or a plain path is
    refused here, before it becomes SQL."""
    for day in (start, end):
        if reason := not_a_partition(day):
            raise ValueError(f"dbt variable: {day!r} is {reason}")
    for path in (lake, output):
        checked_location(str(path))
    values = {"start_date": start, "end_date": end, "lake": lake, "output": output,
              "gps_day_offset": GPS_WINDOW.end_offset}
    return {f"MERIDIAN_DBT_{name.upper()}": str(value) for name, value in values.items()}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ for the block: dagster-dbt hands dbt a copy of it."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def with_value_and_threshold(result: dg.AssetCheckResult) -> dg.AssetCheckResult:
    """What a dbt test measured and against what, as every check says it (docs/CHECKS.md): its
    failing rows, of which it allows none (the project's tests keep dbt's `!= 0`)."""
    failing = result.metadata.get("dagster_dbt/failed_row_count")
    return result.with_metadata({**result.metadata, **readable({"value": getattr(failing, "value", failing),
                                                                 "threshold": 0})})


def publish_days(output: Path, lake: Lake, days: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Split dbt's one file into date= partitions, each swapped in atomically; rows and data
    version per day (what a model trained on the day records, and its staleness check compares)."""
    table = pq.read_table(output)
    # dbt-duckdb writes one all-null row when a day has no deliveries: it is not a delivery.
    table = table.filter(pc.is_valid(table.column("delivery_id")))
    rows, versions = {}, {}
    for day in days:
        part = table.filter(pc.equal(pc.strftime(table.column("date"), "%Y-%m-%d"), day)).drop_columns(["date"])
        written = write_partition(lake.path, ML_TABLE, day, part)
        rows[day], versions[day] = part.num_rows, content_version(pq.read_table(written))  # as readers see it
    lake.publish(ML_TABLE, days)
    return rows, versions


@dbt_assets(
    manifest=meridian_dbt_project.manifest_path,
    project=meridian_dbt_project,
    dagster_dbt_translator=MeridianDbtTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb",
)
def ml_table_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: Lake):
    start, end = context.partition_key_range.start, context.partition_key_range.end
    output = lake.path / ML_TABLE / ".dbt-output" / f"{context.run.run_id}.parquet"
    output.parent.mkdir(parents=True, exist_ok=True)
    # Each build's artifacts in a folder of its own, removed after (dagster-dbt copies the
    # project's partial_parse.msgpack into it first).
    target = output.parent / f"{context.run.run_id}-target"
    for table, reads in DBT_READS.items():
        lake.read(table, reads.days(start, end))
    try:
        with environment(dbt_environment(start, end, lake.path, output)):
            invocation = dbt.cli(["build"], context=context, target_path=target)
        days = days_between(start, end)
        targets = None  # each day's materialization, read once after the table is published
        for event in invocation.stream():
            if isinstance(event, dg.AssetCheckResult):
                event = with_value_and_threshold(event)
            if isinstance(event, dg.AssetCheckResult) and len(days) > 1:
                # A dbt test judges the range's rows together: its result holds for each day.
                targets = targets or newest_materializations(context.instance, dg.AssetKey(ML_TABLE), days)
                yield from on_their_days(context, dict.fromkeys(days, event), targets)
                continue
            if isinstance(event, dg.Output) and event.output_name == ML_TABLE:
                # The model's file is complete here; dbt's tests (checks) follow it.
                rows, versions = publish_days(output, lake, days)
                written = profile(lake.path, ML_TABLE, days)
                event = event.with_metadata(readable({
                    **event.metadata,
                    **written_metadata(lake, ML_TABLE, rows),
                    CONTENT_VERSIONS: dg.MetadataValue.json(versions),
                    # The lake table, not dbt's relation in DuckDB's throwaway in-memory database.
                    "dagster/table_name": LAKE_TABLE_NAME,
                    "dagster/column_schema": column_schema(written["schema"]),
                    **null_rates(written["null_fraction"]),
                }))
            yield event
    finally:
        output.unlink(missing_ok=True)
        shutil.rmtree(target, ignore_errors=True)
