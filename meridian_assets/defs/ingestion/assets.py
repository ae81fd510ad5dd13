"""raw_* assets: one day's vendor drop, validated against the contract, in the lake."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

import dagster as dg
from meridian_assets import profiles
from meridian_assets.contracts import SOURCES, Contract
from meridian_assets.code import source_version
from meridian_assets.defs.ingestion import drops
from meridian_assets.defs.ingestion.drops import DropError, read_file, write_deduplicated
from meridian_assets.defs.resources import Drop, LandingZone, landing_uri
from meridian_assets.lake import Lake
from meridian_assets.lake import RAW_TABLES, scratch_dir, staged_partition, written_metadata
from meridian_assets.metadata import null_rates, readable
from meridian_assets.partitions import daily_partitions

# Vendor APIs and object stores fail transiently (the 2 AM timeout): retry those, with
# backoff and jitter so several sources do not retry in lockstep. Everything else (a contract
# break, a missing bucket, refused credentials, a full disk) fails at once (`transient`).
INGEST_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"}


def transient(exc: BaseException) -> bool:
    """Whether waiting may help: a timeout, a dropped connection, a busy or failing server."""
    import botocore.exceptions as aws  # here: boto3 loads only where S3 is used

    if isinstance(exc, aws.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or exc.response.get("Error", {}).get("Code") in THROTTLED
    return isinstance(exc, (aws.ConnectionError, aws.HTTPClientError, aws.IncompleteReadError,
                            TimeoutError, ConnectionError))


def ingest_day(contract: Contract, day: str, landing: LandingZone, lake: Lake) -> dict:
    """Read, validate and atomically publish one day; returns the day's measures."""
    drop = landing.drop(contract.name, day)
    if not drop.complete:
        raise DropError(
            drop.location, None,
            "incomplete drop: no _SUCCESS sentinel (files may still be arriving)",
        )
    table = RAW_TABLES[contract.name]
    with staged_partition(lake.path, table, day) as staged, scratch_dir(lake.path, table) as scratch:
        write_deduplicated(_read(landing, drop, contract, scratch / "landing"), contract, drop.location, scratch,
                           staged / "part-00000.parquet")
        profile = profiles.record(staged, contract)  # swapped in with the data
    lake.publish(table, [day])
    measures = {"rows": profile["rows"], "files": len(drop.files), "bytes": sum(f.size for f in drop.files)}
    if contract.time_column:
        measures |= {"min_time": profile["first_time"], "max_time": profile["last_time"]}
    if contract.entity:
        entities = len(profile["entities"])
        measures |= {f"distinct_{contract.entity}": entities,
                     f"rows_per_{contract.entity}": profile["rows"] / entities if entities else 0.0}
    rows = profile["rows"]
    return measures | null_rates({c: n / rows if rows else 0.0 for c, n in profile["nulls"].items()})


def _read(landing: LandingZone, drop: Drop, contract: Contract, downloads: Path) -> Iterator[pa.Table]:
    """The drop's rows a batch at a time, one file at a time (one downloaded file on disk at most)."""
    for file in drop.files:
        with landing.local_copy(file, downloads) as path:
            yield from read_file(path, file.name, contract)


def _metadata(table: str, lake: Lake, days: dict[str, dict]) -> dict:
    written = written_metadata(lake, table, {d: m["rows"] for d, m in days.items()})
    if len(days) == 1:
        (m,) = days.values()
        return readable({**written, **{k: v for k, v in m.items() if k != "rows"}})
    return {**written, "files": dg.MetadataValue.json({d: m["files"] for d, m in days.items()})}


def landing_key(contract: Contract) -> dg.AssetKey:
    return dg.AssetKey(["landing", contract.name])


def landing_drop(contract: Contract) -> dg.AssetSpec:
    """Where the data comes from, in the lineage: the vendor's drop, written outside the platform.
    Its kind and address follow the configured landing zone, read when definitions load."""
    uri = landing_uri()
    return dg.AssetSpec(
        key=landing_key(contract),
        description=f"The `{contract.name}` vendor drop: `{contract.name}/YYYY-MM-DD/part-*` files and a "
        "`_SUCCESS` sentinel written last, in the landing zone, as shared/CONTRACT.md defines. Written by "
        "the vendor; the landing sensor starts its ingestion.",
        group_name="landing",
        partitions_def=daily_partitions,
        kinds={"s3" if uri.startswith("s3://") else "folder"},
        owners=["team:data-platform"],
        metadata={"dagster/uri": f"{uri.rstrip('/')}/{contract.name}", "contract": "shared/CONTRACT.md"},
    )


def build_raw_asset(contract: Contract) -> dg.AssetsDefinition:
    @dg.asset(
        name=contract.asset_name,
        description=f"{contract.description} Ingested from the `{contract.name}` landing drop "
        "once its _SUCCESS sentinel exists; one Parquet partition per UTC day.",
        group_name="raw_ingestion",
        partitions_def=daily_partitions,
        deps=[landing_key(contract)],
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=INGEST_RETRY,
        kinds={"python", "parquet"},
        owners=["team:data-platform"],
        tags={"source": contract.name},
        code_version=source_version(sys.modules[__name__], drops),
        metadata={"dagster/column_schema": contract.table_schema},
    )
    def raw_asset(context: dg.AssetExecutionContext, landing: LandingZone, lake: Lake) -> dg.MaterializeResult:
        measured = {}
        for day in context.partition_keys:
            try:
                measured[day] = ingest_day(contract, day, landing, lake)
            except DropError as exc:
                raise dg.Failure(
                    description=str(exc),
                    metadata={"file": exc.file, "column": exc.column or "", "rule": exc.rule, "day": day},
                    allow_retries=False,
                ) from exc
            except Exception as exc:
                if transient(exc):
                    raise  # INGEST_RETRY tries again
                raise dg.Failure(
                    description=f"{contract.asset_name} {day}: {type(exc).__name__}: {exc} (not retried: "
                                "waiting does not fix it)",
                    metadata={"day": day, "error": type(exc).__name__},
                    allow_retries=False,
                ) from exc
            context.log.info(f"{contract.asset_name} {day}: {measured[day]['rows']} rows")
        return dg.MaterializeResult(metadata=_metadata(RAW_TABLES[contract.name], lake, measured))

    return raw_asset


raw_assets = [build_raw_asset(c) for c in SOURCES.values()]
