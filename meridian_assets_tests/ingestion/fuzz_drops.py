"""Fuzzed landing drops (issue 32): hypothesis strategies for one source's day folder, wrong in
chosen ways, each drop knowing what ingestion must make of it.

What a drop may hold: 0-4 part files (Parquet; for gps also CSV and csv.gz, mixed), their rows
spread over them with repeats (a row in two parts, rows repeated in a part, a part sent twice
under another name); extreme values, nulls and values that break the contract's value rules;
harmless variations (column order, an extra column, lossless narrower types, timestamp units and
zones, odd but valid file names, stray files the contract does not name, CSV renderings); and
structural faults (a column missing, renamed, wrongly typed or there twice, a truncated, empty,
garbage or mislabelled file, UTF-16 text, a folder named like a part, no `_SUCCESS`).

The rules are CONTRACT.md's, written out here rather than read from `contracts.py`, so the
fuzz judges the code by the document.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import math
import operator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from hypothesis import strategies as st

DAY = "2026-11-01"
UTC = dt.UTC
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Rule:
    """One column of CONTRACT.md: its type and the value rules the `contract` check judges (the
    day and ordering rules, "within the day", "after departure", belong to other checks)."""

    kind: str  # string, double, int, bool, timestamp
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # > low rather than >= low
    high_open: bool = False
    one_of: tuple[str, ...] = ()
    unique: bool = False
    hourly: bool = False


TEXT, BOOL, TIME, HOUR = Rule("string"), Rule("bool"), Rule("timestamp"), Rule("timestamp", hourly=True)
AT_LEAST_0 = Rule("double", low=0)
CONTRACT = {
    "gps": {
        "vehicle_id": TEXT, "event_ts": TIME, "lat": Rule("double", low=-90, high=90),
        "lon": Rule("double", low=-180, high=180), "speed_kph": Rule("double", low=0, high=250),
        "heading_deg": Rule("double", nullable=True, low=0, high=360, high_open=True), "ignition_on": BOOL,
    },
    "deliveries": {
        "delivery_id": Rule("string", unique=True), "vehicle_id": TEXT, "route_id": TEXT, "customer_id": TEXT,
        "region": TEXT, "stop_sequence": Rule("int", low=1),
        "planned_distance_km": Rule("double", low=0, low_open=True),
        "scheduled_departure_ts": TIME, "scheduled_arrival_ts": TIME,
        "actual_departure_ts": Rule("timestamp", nullable=True), "actual_arrival_ts": Rule("timestamp", nullable=True),
        "status": Rule("string", one_of=("delivered", "cancelled", "failed")),
    },
    "weather": {
        "region": TEXT, "observed_ts": HOUR, "temp_c": Rule("double", low=-60, high=60),
        "precip_mm": AT_LEAST_0, "wind_kph": AT_LEAST_0, "visibility_km": AT_LEAST_0,
        "condition": Rule("string", one_of=("clear", "cloudy", "rain", "snow", "fog", "storm")),
    },
    "traffic": {
        "region": TEXT, "observed_ts": HOUR, "congestion_index": Rule("double", low=0, high=1),
        "incident_count": Rule("int", low=0),
    },
    "customers": {
        "customer_id": Rule("string", unique=True), "region": TEXT,
        "dock_type": Rule("string", one_of=("ground", "dock", "liftgate")), "requires_appointment": BOOL,
        "avg_unload_min": AT_LEAST_0,
    },
}
ARROW = {"string": pa.string(), "double": pa.float64(), "int": pa.int64(), "bool": pa.bool_(),
         "timestamp": pa.timestamp("us", tz="UTC")}


def arrow_schema(source: str) -> pa.Schema:
    """The Arrow schema CONTRACT.md gives the source's rows."""
    return pa.schema([(c, ARROW[rule.kind]) for c, rule in CONTRACT[source].items()])


CSV_SOURCES = {"gps"}  # CONTRACT.md: only gps may also arrive as part-*.csv or part-*.csv.gz

# Values a CSV-bound column cannot carry as sent: Arrow's CSV reader reads these texts as null
# (its defaults, which ingestion keeps) and pandas parses CSV timestamps in nanoseconds
# (1677-09-21..2262-04-11). The Parquet-only sources get the whole range.
CSV_NULL_TEXTS = frozenset(pacsv.ConvertOptions().null_values)
YEARS = {False: (dt.datetime(1, 1, 2), dt.datetime(9999, 12, 30)),
         True: (dt.datetime(1678, 1, 1), dt.datetime(2261, 12, 31))}  # by whether the column may go to a CSV
DAY_START = dt.datetime.fromisoformat(DAY)


def texts(csv_bound: bool) -> st.SearchStrategy[str]:
    """Any text, long ones too (a lone '\\r' is a line break to a CSV reader: left out of CSV)."""
    chars = st.characters(exclude_categories=("Cs",), exclude_characters="\r" if csv_bound else "")
    values = st.text(chars, max_size=20) | st.builds(operator.mul, chars, st.integers(1_000, 100_000))
    return values.filter(lambda s: s not in CSV_NULL_TEXTS) if csv_bound else values


def instants(csv_bound: bool, hourly: bool) -> st.SearchStrategy[dt.datetime]:
    """UTC instants, in the day or anywhere a timestamp can be; on the hour if asked."""
    low, high = YEARS[csv_bound]
    values = (st.datetimes(DAY_START, DAY_START + dt.timedelta(days=1, microseconds=-1), timezones=st.just(UTC))
              | st.datetimes(low, high, timezones=st.just(UTC)))
    return values.map(lambda t: t.replace(minute=0, second=0, microsecond=0)) if hourly else values


def valid(rule: Rule, csv_bound: bool) -> st.SearchStrategy:
    """A value the rule allows, extremes included (bounds, infinities where unbounded, huge texts)."""
    if rule.kind == "string":
        values = st.sampled_from(rule.one_of) if rule.one_of else texts(csv_bound)
    elif rule.kind == "double":
        values = st.floats(rule.low, rule.high, exclude_min=rule.low_open, exclude_max=rule.high_open, allow_nan=False)
    elif rule.kind == "int":
        values = st.integers(INT64[0] if rule.low is None else rule.low, INT64[1])
    elif rule.kind == "bool":
        values = st.booleans()
    else:
        values = instants(csv_bound, rule.hourly)
    return st.none() | values if rule.nullable else values


def breaking(rule: Rule, csv_bound: bool) -> list[tuple[str, st.SearchStrategy]]:
    """Each way a value can break the rule, as (the contract check's category, values):
    `not_nullable` for a missing value (null, or NaN: missing to the contract, but a CSV reads
    'nan' as null, so not in CSV), `value` for a range, a set or the on-the-hour rule."""
    ways = []
    if not rule.nullable:
        missing = st.none() | st.just(math.nan) if rule.kind == "double" and not csv_bound else st.none()
        ways.append(("not_nullable", missing))
    if rule.kind == "int" and rule.low is not None:
        ways.append(("value", st.integers(INT64[0], rule.low - 1)))
    if rule.kind == "double" and rule.low is not None:
        ways.append(("value", st.floats(max_value=rule.low, exclude_max=not rule.low_open, allow_nan=False)))
    if rule.kind == "double" and rule.high is not None:
        ways.append(("value", st.floats(min_value=rule.high, exclude_min=not rule.high_open, allow_nan=False)))
    if rule.one_of:
        ways.append(("value", texts(csv_bound).filter(lambda s: s not in rule.one_of)))
    if rule.hourly:
        past_the_hour = st.integers(1, 3_599_999_999).map(lambda us: dt.timedelta(microseconds=us))
        ways.append(("value", st.builds(operator.add, instants(csv_bound, True), past_the_hour)))
    return ways


@st.composite
def day_rows(draw, source: str) -> tuple[list[dict], frozenset[tuple[str, str]]]:
    """The rows a vendor means to send, and the (column, category) of every value rule they break."""
    rules, csv_bound = CONTRACT[source], source in CSV_SOURCES
    unique = [c for c, r in rules.items() if r.unique]
    row = st.fixed_dictionaries({c: valid(r, csv_bound) for c, r in rules.items()})
    rows = draw(st.lists(row, min_size=1, max_size=6, unique_by=operator.itemgetter(*unique) if unique else None))
    broken = set()
    breakable = [c for c, r in rules.items() if breaking(r, csv_bound)]
    cells = [(i, c) for i in range(len(rows)) for c in breakable]
    for i, column in draw(st.lists(st.sampled_from(cells), unique=True, max_size=3)) if cells else []:
        category, values = draw(st.sampled_from(breaking(rules[column], csv_bound)))
        rows[i][column] = draw(values)
        broken.add((column, category))
    keyed = [r for r in rows if unique and r[unique[0]] is not None]
    if keyed and draw(st.booleans()):
        # The same key sent again with another value: not an exact duplicate, so it stays.
        original = draw(st.sampled_from(keyed))
        other = draw(st.sampled_from([c for c in rules if c != unique[0]]))
        changed = draw(valid(rules[other], csv_bound).filter(lambda v: v != original[other]))
        rows.append(original | {other: changed})
        broken.add((unique[0], "field_uniqueness"))
    return rows, frozenset(broken)


@dataclass(frozen=True)
class Expect:
    """What ingestion must make of one file: `lands` (its rows are read), `fails` (the drop fails
    naming this file, with a rule starting with one of `rules`, naming `column` when given) or
    `either` (a broken file without rows, or an ambiguous one: failing as `fails` says, or
    landing the rows the file meant, are both right)."""

    verdict: str
    rules: tuple[str, ...] = ()
    column: str | None = None


LANDS = Expect("lands")
UNREADABLE = Expect("fails", ("unreadable file",))
# Bytes that are not CSV text: unreadable, or read as a header without the contract's columns.
NOT_CSV = Expect("fails", ("unreadable file", "required column missing"))


def column_fault(rule: str, column: str, rows: int) -> Expect:
    """A wrong column fails the drop, unless its file has no rows to read."""
    return Expect("fails" if rows else "either", (rule,), column)


@dataclass(frozen=True)
class DropFile:
    name: str
    data: bytes | None  # None: a folder named like a part file
    rows: tuple[dict, ...]  # the rows it carries, as the contract's values
    expect: Expect
    how: str  # what was done to it, for the report


def short(value) -> str:
    """A value for a report: a long text as its start and length."""
    return f"{value[:12]!r}...({len(value)} chars)" if isinstance(value, str) and len(value) > 40 else repr(value)


@dataclass(frozen=True, repr=False)
class Drop:
    source: str
    files: tuple[DropFile, ...]
    strays: tuple[str, ...]  # names the contract does not match: never read
    sentinel: bool
    broken_values: frozenset[tuple[str, str]]  # (column, category) the contract check must report

    def __repr__(self) -> str:
        """What a failing example shows: each file, what was done to it and its rows (not its bytes)."""
        lines = [f"{self.source} drop, _SUCCESS {'written' if self.sentinel else 'missing'}, "
                 f"strays {list(self.strays)}, broken values {sorted(self.broken_values)}"]
        for f in self.files:
            lines.append(f"  {f.name!r}: {f.how} -> {f.expect}")
            lines += ["    {" + ", ".join(f"{c}: {short(v)}" for c, v in row.items()) + "}" for row in f.rows]
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis prints examples with this
        printer.text(repr(self))

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        for f in self.files:
            if f.data is None:
                (folder / f.name).mkdir()
            else:
                (folder / f.name).write_bytes(f.data)
        for name in self.strays:
            (folder / name).parent.mkdir(exist_ok=True)
            (folder / name).write_bytes(b"\x00not a part file")
        if self.sentinel:
            (folder / "_SUCCESS").write_bytes(b"")


def contract_columns(rules: dict[str, Rule], rows: list[dict]) -> list[tuple[str, pa.Array]]:
    return [(c, pa.array([r[c] for r in rows], ARROW[rule.kind])) for c, rule in rules.items()]


def _lossless(array: pa.Array, target: pa.DataType) -> pa.Array | None:
    """`array` as `target` if that changes no value (Arrow's safe casts, both ways), else None."""
    try:
        narrowed = array.cast(target)
        return narrowed if narrowed.cast(array.type).equals(array) else None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


NARROWER = {  # types a writer may give a column without changing its values
    "string": [pa.large_string()],
    "double": [pa.float32(), pa.int64()],  # CONTRACT.md: integers widen to double
    "int": [pa.int32(), pa.uint64()],
    "bool": [],
    "timestamp": [pa.timestamp(u, tz=z) for u in ("s", "ms", "us", "ns") for z in (None, "Asia/Kolkata")],
}
WRONG_TYPES = {  # each kind as another type: refused whatever the values
    "string": lambda n: pa.array(range(n), pa.int64()),
    "double": lambda n: pa.array([str(i) for i in range(n)]),
    "int": lambda n: pa.array([i + 0.5 for i in range(n)]),
    "bool": lambda n: pa.array([i % 2 for i in range(n)], pa.int8()),
    "timestamp": lambda n: pa.array([DAY] * n),
}
# Integers of an accepted type that the contract's type cannot hold exactly.
UNSAFE_NUMBERS = {"double": pa.scalar(2**53 + 1, pa.int64()), "int": pa.scalar(2**63, pa.uint64())}
WRONG_TEXTS = {"double": ["abc", "1.2.3", "12 km"], "int": ["1.5", "abc", "9223372036854775808"],
               "bool": ["yes", "2", "truthy"],
               "timestamp": ["yesterday", "2026-13-01T00:00:00Z", "2026-11-01T24:61:00Z"]}


@st.composite
def parquet_columns(draw, rules: dict[str, Rule], rows: list[dict]) -> tuple[list[tuple[str, pa.Array]], list[str]]:
    """The contract's columns as a vendor's writer may type them, and how."""
    columns, how = [], []
    for name, array in contract_columns(rules, rows):
        rule = rules[name]
        options = [(array, "")] + [(a, str(t)) for t in NARROWER[rule.kind] if (a := _lossless(array, t)) is not None]
        if rule.kind == "string":
            options.append((array.dictionary_encode(), "dictionary"))
        if rule.nullable and array.null_count == len(array):
            options.append((pa.nulls(len(array)), "null"))  # a writer's type for a column of nulls
        sent, typed = draw(st.sampled_from(options))
        columns.append((name, sent))
        how += [f"{name} as {typed}"] if typed else []
    return columns, how


OFFSETS = [dt.timezone(dt.timedelta(hours=h, minutes=m)) for h, m in ((0, 0), (5, 30), (-8, 0), (14, 0), (-12, 0))]
TRUE_TEXTS, FALSE_TEXTS = ["true", "True", "TRUE", "1"], ["false", "False", "FALSE", "0"]


def _iso(value: dt.datetime, zone: dt.timezone | None, sep: str, z: bool, timespec: str) -> str:
    if zone is None:  # naive: UTC by the contract
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep, timespec)
    text = value.astimezone(zone).isoformat(sep, timespec)
    return text.removesuffix("+00:00") + "Z" if z and text.endswith("+00:00") else text


def rendered(kind: str, value) -> st.SearchStrategy[str]:
    """The ways a CSV writer may spell `value` (one is drawn per cell: mixed spellings in a column)."""
    if value is None:
        return st.just("")
    if kind == "double":
        integral = math.isfinite(value) and value == int(value) and abs(value) < 1e16
        return st.sampled_from([repr(value)] + ([str(int(value))] if integral else []))
    if kind == "int":
        return st.just(str(value))
    if kind == "bool":
        return st.sampled_from(TRUE_TEXTS if value else FALSE_TEXTS)
    if kind == "timestamp":
        zones = [*OFFSETS, None]
        return st.builds(_iso, st.just(value), st.sampled_from(zones), st.sampled_from("T "), st.booleans(),
                         st.sampled_from(["auto", "microseconds"]))
    return st.just(value)


@st.composite
def csv_columns(draw, rules: dict[str, Rule], rows: list[dict]) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """The contract's columns as CSV text cells, each spelled one of the ways a writer may."""
    return [(c, [draw(rendered(rule.kind, r[c])) for r in rows]) for c, rule in rules.items()], []


def csv_lines(columns: list[tuple[str, list[str]]], terminator: str, quoting: int) -> list[str]:
    """The header and each row as CSV text (a row may span lines: a quoted value holding a newline)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=terminator, quoting=quoting)
    lines = []
    for row in [[name for name, _ in columns], *zip(*(cells for _, cells in columns), strict=True)]:
        writer.writerow(row)
        lines.append(out.getvalue())
        out.seek(0)
        out.truncate()
    return lines


@st.composite
def column_fault_in(draw, fmt: str, columns: list, rules: dict[str, Rule], rows: int) -> tuple[Expect, str]:
    """Break one column of a part in place: missing, renamed, wrongly typed or duplicated."""
    faults = ["missing", "renamed", "duplicated"]
    if fmt == "parquet" or rows:
        faults.append("wrong type")
    fault = draw(st.sampled_from(faults))
    retypable = [c for c, r in rules.items() if fmt == "parquet" or r.kind != "string"]  # any text is a CSV string
    column = draw(st.sampled_from(retypable if fault == "wrong type" else list(rules)))
    rule, index = rules[column], [name for name, _ in columns].index(column)
    if fault in ("missing", "renamed"):
        name, cells = columns.pop(index)
        if fault == "renamed":
            columns.append((name.upper(), cells))
        return column_fault("required column missing", column, rows), f"{fault} {column}"
    if fault == "duplicated":  # the same values twice under one name: which to read is ambiguous
        columns.append(columns[index])
        return Expect("either"), f"{column} twice"
    if fmt == "parquet":
        wrong = [WRONG_TYPES[rule.kind](rows)] + ([] if rule.nullable else [pa.nulls(rows)])
        if rule.kind in UNSAFE_NUMBERS and rows:
            wrong.append(pa.array([UNSAFE_NUMBERS[rule.kind].as_py()] * rows, UNSAFE_NUMBERS[rule.kind].type))
        columns[index] = (column, draw(st.sampled_from(wrong)))
    else:
        cells = list(columns[index][1])
        cells[draw(st.integers(0, rows - 1))] = draw(st.sampled_from(WRONG_TEXTS[rule.kind]))
        columns[index] = (column, cells)
    return column_fault(f"must be {rule.kind}", column, rows), f"{column} of a wrong type"


@st.composite
def part_file(draw, source: str, rows: list[dict], fmt: str, name: str, faulty: bool) -> DropFile:
    """One part file holding `rows` in `fmt` (parquet, csv, csv.gz), harmlessly varied, and when
    `faulty` broken in one way: a column (see column_fault_in) or its bytes."""
    rules = CONTRACT[source]
    columns, how = draw(parquet_columns(rules, rows) if fmt == "parquet" else csv_columns(rules, rows))
    if draw(st.booleans()):
        extra = pa.array(["n/a"] * len(rows)) if fmt == "parquet" else ["n/a"] * len(rows)
        columns.append(("vendor_note", extra))
        how.append("an extra column")
    fault = draw(st.sampled_from(["column", "bytes"])) if faulty else None
    expect = LANDS
    if fault == "column":
        expect, what = draw(column_fault_in(fmt, columns, rules, len(rows)))
        how.append(what)
    columns = draw(st.permutations(columns))
    if fmt == "parquet":
        sink = io.BytesIO()
        pq.write_table(pa.table([a for _, a in columns], names=[n for n, _ in columns]), sink,
                       row_group_size=draw(st.sampled_from([None, 1, 2])),
                       compression=draw(st.sampled_from(["snappy", "zstd", "gzip", "none"])))
        data, lines = sink.getvalue(), []
    else:
        lines = csv_lines(columns, draw(st.sampled_from(["\n", "\r\n"])),
                          draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
        bom = "\ufeff" if draw(st.booleans()) else ""
        data = (bom + "".join(lines)).encode()
    if fault == "bytes":
        data, expect, what = draw(broken_bytes(fmt, data, lines, rules, rows))
        how.append(what)
    elif fmt == "csv.gz":
        data = gzip.compress(data, mtime=0)
    return DropFile(name, data, tuple(rows), expect, ", ".join([fmt, *how]))


@st.composite
def broken_bytes(draw, fmt: str, data: bytes, lines: list[str], rules: dict[str, Rule], rows: list[dict]):
    """A part file's bytes broken: cut short, replaced by garbage, another format's, or UTF-16."""
    fault = draw(st.sampled_from(["truncated", "garbage", "other format"] + (["utf-16"] if fmt != "parquet" else [])))
    if fault == "truncated" and fmt == "csv" and rows:
        # Cut inside a row, leaving it one character (a cut at a line end would be a shorter valid file).
        kept = draw(st.integers(1, len(lines) - 1))
        return ("".join(lines[:kept]) + lines[kept][0]).encode(), UNREADABLE, "cut inside a row"
    if fault == "truncated" and fmt == "csv":  # cut within the header's first name: the others are missing
        return lines[0][: draw(st.integers(0, lines[0].index(",")))].encode(), NOT_CSV, "header cut"
    if fault == "truncated":
        whole = gzip.compress(data, mtime=0) if fmt == "csv.gz" else data
        return whole[: draw(st.integers(0, len(whole) - 1))], UNREADABLE, "cut short"
    if fault == "garbage":
        garbage = draw(st.binary(max_size=64))
        return garbage, UNREADABLE if fmt != "csv" else NOT_CSV, f"garbage {garbage[:16]!r}"
    if fault == "other format":
        table = pa.table(dict(contract_columns(rules, rows)))
        sink = io.BytesIO()
        if fmt == "parquet":
            pacsv.write_csv(table, sink)
            return sink.getvalue(), UNREADABLE, "CSV text in a .parquet file"
        pq.write_table(table, sink)
        return sink.getvalue(), NOT_CSV if fmt == "csv" else UNREADABLE, f"Parquet in a .{fmt} file"
    text = data.decode().encode("utf-16")
    return (gzip.compress(text, mtime=0) if fmt == "csv.gz" else text), NOT_CSV, "UTF-16"


FORMATS = {source: ["parquet", "csv", "csv.gz"] if source in CSV_SOURCES else ["parquet"] for source in CONTRACT}
# Files the contract's `part-*.parquet|.csv|.csv.gz` does not match, as vendors' tools leave them.
STRAYS = (".part-00000.parquet", "part-00000.parquet.crc", "part-00000.PARQUET", "Part-00000.parquet",
          "part-00000.json", "part-00000.csv.bz2", "readme.txt", "_SUCCESS.tmp", "_temporary/part-00000.parquet")
NAME_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="/\x00")


@st.composite
def drops(draw, source: str) -> Drop:
    """A day folder for `source`: its part files, strays, sentinel, and what each file must do."""
    count = draw(st.integers(0, 4))
    empty = draw(st.integers(0, 9)) == 9  # one drop in ten sends files without rows
    rows, broken_values = draw(day_rows(source)) if count and not empty else ([], frozenset())
    homes = [draw(st.sets(st.integers(0, count - 1), min_size=1, max_size=2)) for _ in rows]
    names = draw(st.lists(st.integers(0, 99_999).map("{:05d}".format) | st.text(NAME_CHARS, max_size=12),
                          min_size=count + 2, max_size=count + 2, unique=True))
    broken = draw(st.booleans())
    faulty = draw(st.sets(st.integers(0, count - 1), min_size=1, max_size=2)) if broken and count else set()
    formats = [draw(st.sampled_from(FORMATS[source])) for _ in range(count)]
    files = []
    for i, fmt in enumerate(formats):
        mine = [r for r, home in zip(rows, homes, strict=True) if i in home]
        mine += mine[: draw(st.integers(0, len(mine)))]  # rows repeated within the file
        files.append(draw(part_file(source, mine, fmt, f"part-{names[i]}.{fmt}", i in faulty)))
    if files and draw(st.booleans()):
        i = draw(st.integers(0, count - 1))
        sent = files[i]
        files.append(DropFile(f"part-{names[count]}.{formats[i]}", sent.data, sent.rows, sent.expect,
                              f"a copy of {sent.name!r}"))
    if broken and draw(st.booleans()):
        files.append(DropFile(f"part-{names[count + 1]}.parquet", None, (), UNREADABLE, "a folder named like a part"))
    strays = draw(st.lists(st.sampled_from(STRAYS), unique=True, max_size=3))
    sentinel = draw(st.integers(0, 9)) < 9  # one drop in ten without _SUCCESS (0, the simplest draw, has one)
    return Drop(source, tuple(files), tuple(strays), sentinel, broken_values)
