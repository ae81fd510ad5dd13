"""Reading one vendor drop into the contract's Arrow schema, or saying exactly what is wrong.

Pure functions over bytes, so local folders and S3 share them and tests need no Dagster.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyarrow.types as pat

from meridian_assets.contracts import ACCEPTS, ARROW_TYPES, Contract
from meridian_assets.lake import duckdb_connection, parquet


class DropError(ValueError):
    """A drop that breaks the contract: names the file, the column and the rule."""

    def __init__(self, file: str, column: str | None, rule: str, detail: str = ""):
        self.file, self.column, self.rule = file, column, rule
        where = f"column '{column}': " if column else ""
        super().__init__(f"{file}: {where}{rule}{' (' + detail + ')' if detail else ''}")


def conform(table: pa.Table, contract: Contract, file: str) -> pa.Table:
    """Check every contract column is present with an acceptable type; cast to the contract.

    Structure only: values (nulls, ranges) are the contract check's job, so a bad value shows
    as a failed check with its failure cases, not as a crashed step.
    """
    arrays = []
    for col in contract.columns:
        if col.name not in table.column_names:
            raise DropError(file, col.name, "required column missing", f"found {table.column_names}")
        array = table.column(col.name)
        if pat.is_null(array.type) and col.nullable:
            arrays.append(pa.nulls(len(array), ARROW_TYPES[col.kind]))
            continue
        if not ACCEPTS[col.kind](array.type):
            raise DropError(file, col.name, f"must be {col.kind}", f"got {array.type}")
        if col.kind == "timestamp" and array.type.tz is None:
            array = array.cast(pa.timestamp(array.type.unit, tz="UTC"))
        try:
            arrays.append(array.cast(ARROW_TYPES[col.kind], safe=col.kind != "timestamp"))
        except pa.ArrowInvalid as exc:
            raise DropError(file, col.name, f"must be {col.kind}", str(exc)) from exc
    return pa.Table.from_arrays(arrays, schema=contract.arrow_schema)


_BOOL_WORDS = {"true": True, "1": True, "false": False, "0": False}


def _parse_text(text: pa.ChunkedArray, kind: str) -> pa.Array:
    if kind == "timestamp":
        parsed = pd.to_datetime(text.to_pandas(), utc=True, format="ISO8601")
        return pa.array(parsed, type=ARROW_TYPES["timestamp"], from_pandas=True)
    if kind == "bool":
        words = text.to_pandas().str.strip().str.lower()
        unknown = words.dropna()[~words.dropna().isin(list(_BOOL_WORDS))]
        if len(unknown):
            raise ValueError(f"not a boolean: {unknown.iloc[0]!r}")
        return pa.array(words.map(_BOOL_WORDS), type=pa.bool_(), from_pandas=True)
    return text.cast(ARROW_TYPES[kind])


def _from_csv(data: bytes, contract: Contract, file: str) -> pa.Table:
    """CSV carries no types: parse each contract column from text, naming the one that fails."""
    stream = pa.BufferReader(data)
    if file.endswith(".gz"):
        stream = pa.CompressedInputStream(stream, "gzip")
    raw = pacsv.read_csv(
        stream,
        convert_options=pacsv.ConvertOptions(
            column_types={c.name: pa.string() for c in contract.columns}, strings_can_be_null=True
        ),
    )
    arrays = {}
    for col in contract.columns:
        if col.name not in raw.column_names:
            raise DropError(file, col.name, "required column missing", f"found {raw.column_names}")
        try:
            arrays[col.name] = _parse_text(raw.column(col.name), col.kind)
        except (pa.ArrowInvalid, ValueError, TypeError) as exc:
            raise DropError(file, col.name, f"must be {col.kind}", str(exc)[:200]) from exc
    return pa.table(arrays)


def read_file(name: str, data: bytes, contract: Contract) -> pa.Table:
    """One part file, parsed and conformed to the contract."""
    try:
        if name.endswith((".csv", ".csv.gz")):
            table = _from_csv(data, contract, name)
        else:
            table = pq.read_table(io.BytesIO(data))
    except DropError:
        raise
    except (pa.ArrowException, OSError, EOFError, ValueError) as exc:
        raise DropError(name, None, "unreadable file", str(exc)[:200]) from exc
    if table.num_rows == 0:
        # Writers type the columns of an empty file loosely (often as null): it adds no rows,
        # and a drop made only of such files is reported as the empty drop it is.
        return contract.arrow_schema.empty_table()
    return conform(table, contract, name)


BATCH_ROWS = 250_000  # rows handed from DuckDB to the Parquet writer at a time


def write_deduplicated(tables: Iterable[pa.Table], contract: Contract, location: str, scratch: Path,
                       target: Path) -> None:
    """Write the part files of a day, one at a time, into `scratch`, then all their rows once each
    (vendors re-send) into `target`: DuckDB deduplicates, spilling instead of holding the day in
    memory, and hands batches to a Parquet writer with the contract's schema (DuckDB's own writer
    marks columns without nulls as required, so the file's schema would vary by day). The rows,
    not their order, are the result: sorting a 40,000-vehicle day took four times as long as all
    the rest (docs/BENCHMARKS.md).
    """
    rows = 0
    for number, table in enumerate(tables):
        if table.num_rows:
            pq.write_table(table, scratch / f"part-{number:05d}.parquet", coerce_timestamps="us")
            rows += table.num_rows
    if rows == 0:
        raise DropError(location, None, "empty drop: no rows in any part file")
    with duckdb_connection(scratch / "spill") as db, pq.ParquetWriter(target, contract.arrow_schema) as writer:
        for batch in db.sql(f"SELECT DISTINCT * FROM {parquet(scratch)}").to_arrow_reader(BATCH_ROWS):
            writer.write_batch(batch.cast(contract.arrow_schema))
