"""Per-day profiles of the raw tables: a few numbers recorded beside each partition as it is
written, so a rule comparing a day with its earlier days reads those, never their rows, and
costs the same with one day of history or seven.

A profile sits in the partition's folder (`_profile.json`: Spark, Arrow and the Parquet globs
skip `_` files), written into the staged folder before the swap, so data and profile are
replaced together. A partition written without one (by an older version, or a test writing
the lake directly) is profiled when first asked, in DuckDB over its Parquet.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from meridian_assets.contracts import Column, Contract
from meridian_assets.lake import RAW_TABLES, Lake, duckdb_connection, parquet
from spark_jobs.layout import Window, existing_partitions

PROFILE_FILE = "_profile.json"
VERSION = 1  # raise when a measure changes: older profiles are then measured again
DAY_MICROS = 86_400_000_000


def is_null(column: Column) -> str:
    """pandas' meaning of missing, which the checks always had: a float NaN is missing too."""
    name = f'"{column.name}"'
    return f"({name} IS NULL OR isnan({name}))" if column.kind == "double" else f"{name} IS NULL"


def measure(folder: Path, contract: Contract) -> dict:
    """The profile of a partition folder's rows, in one DuckDB session."""
    with duckdb_connection() as db:
        return _measure(db, parquet(folder), contract)


def _measure(db: duckdb.DuckDBPyConnection, source: str, contract: Contract) -> dict:
    measures = {f"null:{c.name}": f"count(*) FILTER (WHERE {is_null(c)})" for c in contract.columns}
    time = contract.time_column
    if time:
        # The content without its dates: yesterday's pings re-stamped as today's give the same.
        content = ", ".join(f"epoch_us({c.name}) % {DAY_MICROS}" if c.kind == "timestamp" else f'"{c.name}"'
                            for c in contract.columns)
        measures |= {
            "first_time": f"min({time})", "last_time": f"max({time})",
            "mean_hour": f"avg(epoch_us({time}) % {DAY_MICROS}) / 3.6e9",
            "fingerprint": f"(sum(hash({content}))::HUGEINT % 18446744073709551616)::VARCHAR",
        }
    row = db.execute(f"SELECT count(*), {', '.join(measures.values())} FROM {source}").fetchone()
    values = dict(zip(measures, row[1:]))
    profile = {"version": VERSION, "rows": row[0],
               "nulls": {c.name: values.pop(f"null:{c.name}") for c in contract.columns}}
    profile |= {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()}
    if contract.entity:
        profile["entities"] = [v for (v,) in db.execute(
            f"SELECT DISTINCT {contract.entity} FROM {source} WHERE {contract.entity} IS NOT NULL ORDER BY 1"
        ).fetchall()]
    return profile


def record(folder: Path, contract: Contract) -> dict:
    """Measure a (staged) partition and keep its profile beside its data."""
    profile = measure(folder, contract)
    (folder / PROFILE_FILE).write_text(json.dumps(profile))
    return profile


def read(lake: Lake, contract: Contract, day: str) -> dict:
    """The day's recorded profile, or one measured now if it has none (or an older version's)."""
    folder = lake.partition(RAW_TABLES[contract.name], day)
    stored = folder / PROFILE_FILE
    if stored.is_file():
        profile = json.loads(stored.read_text())
        if profile.get("version") == VERSION:
            return profile
    return measure(folder, contract)


def history(lake: Lake, contract: Contract, day: str, window: Window) -> dict[str, dict]:
    """The profiles of the existing partitions in `day`'s window, earliest first."""
    table, days = RAW_TABLES[contract.name], window.days(day, day)
    return {p.name.removeprefix("date="): read(lake, contract, p.name.removeprefix("date="))
            for p in existing_partitions(lake.read(table, days), table, days)}
