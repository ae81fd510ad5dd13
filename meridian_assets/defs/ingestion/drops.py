"""Reading one vendor drop into the contract's Arrow schema, or saying exactly what is wrong.

Pure functions over local files (an S3 drop is downloaded a file at a time), so tests need no Dagster.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pyarrow.types as pat

from meridian_assets.contracts import ACCEPTS, ARROW_TYPES, Contract
from meridian_assets.lake import duckdb_connection, parquet

BATCH_ROWS = 250_000  # rows read from a Parquet file, or handed from DuckDB to the writer, at a time
CSV_BLOCK_BYTES = 64 << 20  # CSV text parsed at a time
PARQUET_BUFFER_BYTES = 8 << 20  # Parquet bytes read at a time


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
    names = table.column_names
    if twice := [c.name for c in contract.columns if names.count(c.name) > 1]:
        raise DropError(file, twice[0], "column appears twice", f"found {names}")
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


# An ISO 8601 time of day with its UTC offset (or Z) at the end.
WITH_OFFSET = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _parse_text(text: pa.ChunkedArray, kind: str) -> pa.Array:
    if kind == "timestamp":
        values = text.to_pandas()
        # With offsets and without, parsed apart: pandas gives a value without one the offset of the
        # value before it, where the contract says it is UTC.
        aware = values.str.contains(WITH_OFFSET, na=False)
        parts = [pd.to_datetime(values[rows], utc=True, format="ISO8601") for rows in (aware, ~aware) if rows.any()]
        parsed = pd.concat(parts).reindex(values.index) if parts else pd.to_datetime(values, utc=True, format="ISO8601")
        return pa.array(parsed, type=ARROW_TYPES["timestamp"], from_pandas=True)
    if kind == "bool":
        words = text.to_pandas().str.strip().str.lower()
        unknown = words.dropna()[~words.dropna().isin(list(_BOOL_WORDS))]
        if len(unknown):
            raise ValueError(f"not a boolean: {unknown.iloc[0]!r}")
        return pa.array(words.map(_BOOL_WORDS), type=pa.bool_(), from_pandas=True)
    return text.cast(ARROW_TYPES[kind])


def _csv_reader(path: Path, include: list[str] | None = None) -> pacsv.CSVStreamingReader:
    """CSV carries no types: every contract column is read as text, then parsed (`_csv_batches`)."""
    stream = pa.input_stream(path, compression="gzip" if path.name.endswith(".gz") else None)
    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in include or []}, strings_can_be_null=True,
            include_columns=include,
        ),
    )


def _csv_batches(path: Path, contract: Contract, file: str) -> Iterator[pa.Table]:
    """The contract's columns of a CSV, a block at a time, each parsed from text, naming the
    column that fails."""
    with _csv_reader(path) as reader:
        found = reader.schema.names  # read from the first block only
    for col in contract.columns:
        if col.name not in found:
            raise DropError(file, col.name, "required column missing", f"found {found}")
    with _csv_reader(path, [c.name for c in contract.columns]) as reader:
        for batch in reader:
            arrays = {}
            for col in contract.columns:
                try:
                    arrays[col.name] = _parse_text(batch.column(col.name), col.kind)
                except (pa.ArrowInvalid, ValueError, TypeError) as exc:
                    raise DropError(file, col.name, f"must be {col.kind}", str(exc)[:200]) from exc
            yield pa.table(arrays)


def _parquet_batches(path: Path) -> Iterator[pa.Table]:
    # Column chunks read through a buffer, not whole: a file written as one huge row group too.
    with pq.ParquetFile(path, buffer_size=PARQUET_BUFFER_BYTES, pre_buffer=False) as parquet_file:
        for batch in parquet_file.iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])


def read_file(path: Path, name: str, contract: Contract) -> Iterator[pa.Table]:
    """One part file, conformed to the contract a batch at a time: a file of any size is held in
    memory one batch at a time. `name` is how errors name it (its landing path or URI)."""
    try:
        batches = _csv_batches(path, contract, name) if name.endswith((".csv", ".csv.gz")) else _parquet_batches(path)
        for table in batches:
            # Writers type the columns of an empty file loosely (often as null): it adds no rows,
            # and a drop made only of such files is reported as the empty drop it is.
            if table.num_rows:
                yield conform(table, contract, name)
    except DropError:
        raise
    except (pa.ArrowException, OSError, EOFError, ValueError) as exc:
        raise DropError(name, None, "unreadable file", str(exc)[:200]) from exc


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
