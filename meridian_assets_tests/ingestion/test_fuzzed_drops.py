"""Fuzzed drops (issue 32, part 3): generated landing folders for each source, each ingested
into a lake that already holds a good day (as a re-delivery of that day).

Asserted of every drop, from what the generator did to each file (`fuzz_drops.Expect`):
- nothing structurally broken: it lands; the day then holds exactly the distinct rows sent (NaN and
  -0.0 as DuckDB's DISTINCT takes them) with CONTRACT.md's Arrow schema, the `contract` check
  reports exactly the (column, rule) pairs the generator broke, and every other file of the lake
  is byte for byte as before;
- a broken file, no `_SUCCESS` or no rows: it fails with a DropError whose message starts with the
  file it names, a file the generator broke (or the folder), with that file's reason (and
  column); the whole lake is byte for byte as before;
- a broken file without rows, or a column sent twice: either of the two;
- each ingestion ends within HANG_SECONDS; no other exception.

`make test` runs a fixed-seed sample; `make fuzz` runs MERIDIAN_FUZZ_DROPS drops (docs/RELIABILITY.md).
"""

from __future__ import annotations

import datetime
import hashlib
import math
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from meridian_assets.contracts import SOURCES
from meridian_assets.defs.ingestion.assets import ingest_day
from meridian_assets.defs.ingestion.drops import DropError
from meridian_assets.defs.resources import LandingZone
from meridian_assets.lake import RAW_TABLES, Lake
from meridian_assets.quality import Partition, contract_failures
from meridian_assets.synthetic import write_day
from meridian_assets_tests.ingestion.fuzz_drops import CONTRACT, DAY, Drop, Expect, arrow_schema, drops, short

HANG_SECONDS = 60  # one drop takes well under a second; a minute is a hang, not a slow machine
DROPS = int(os.environ.get("MERIDIAN_FUZZ_DROPS", "0"))  # make fuzz: this many drops in all
SAMPLE_PER_SOURCE = 40  # make test: a fixed-seed sample

# make test: a fixed sample (derandomized), a failure reported unshrunk at once; make fuzz: DROPS
# drops, random unless pytest is given --hypothesis-seed, a failure shrunk to a small drop. No
# example database: nothing is written into the repository.
PROFILE = settings(
    max_examples=math.ceil(DROPS / len(CONTRACT)) if DROPS else SAMPLE_PER_SOURCE, derandomize=not DROPS,
    phases=list(Phase) if DROPS else [Phase.explicit, Phase.generate],
    database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

TALLY: Counter = Counter()  # (source, "landed" | "failed") -> drops
SLOWEST = [0.0]


def snapshot(root: Path) -> dict[str, str | None]:
    """Every file and folder below `root`, a file by its content's digest."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def without(files: dict[str, str | None], folder: str) -> dict[str, str | None]:
    """A snapshot less `folder` and what is in it."""
    return {k: v for k, v in files.items() if k != folder and not k.startswith(folder + "/")}


class GoodLake:
    """A lake holding one good day of every source, put back as it was after each drop."""

    def __init__(self, base: Path):
        write_day(base / "good", DAY, vehicles=2, seed=3)
        self.lake = Lake(root=str(base / "lake"))
        for contract in SOURCES.values():
            ingest_day(contract, DAY, LandingZone(uri=str(base / "good")), self.lake)
        self.root, self.pristine = self.lake.path, base / "pristine"
        shutil.copytree(self.root, self.pristine)
        self.before = snapshot(self.root)

    def restore(self) -> None:
        if snapshot(self.root) != self.before:
            shutil.rmtree(self.root)
            shutil.copytree(self.pristine, self.root)


@pytest.fixture(scope="module")
def good_lake(tmp_path_factory) -> GoodLake:
    return GoodLake(tmp_path_factory.mktemp("fuzzed-drops"))


@pytest.fixture(scope="module", autouse=True)
def report():
    """The count of drops, printed at the end (make fuzz shows it; `-s`)."""
    yield
    landed, failed = (sum(n for (_, outcome), n in TALLY.items() if outcome == o) for o in ("landed", "failed"))
    by_source = ", ".join(f"{s} {TALLY[s, 'landed'] + TALLY[s, 'failed']}" for s in CONTRACT)
    print(f"\nfuzzed drops: {landed + failed} ({by_source}); landed {landed}, failed with a DropError naming "
          f"the file and the reason {failed}; slowest ingestion {SLOWEST[0]:.2f} s")
    assert landed + failed >= DROPS, f"asked for {DROPS} drops, generated {landed + failed}"


def bounded(call, seconds: float):
    """call() in a thread of its own: its result or its exception, or a failure once it has run
    `seconds` (the hung thread is left behind: a daemon, it does not hold the process)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"ingestion still running after {seconds} s: a hang")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def canonical(row: dict, columns: list[str]) -> tuple:
    """A row as DuckDB's DISTINCT compares it: NaN equals NaN, -0.0 equals 0.0."""
    def value(v):
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        return 0.0 if isinstance(v, float) and v == 0 else v
    return tuple(value(row[c]) for c in columns)


def shown(rows: set[tuple]) -> str:
    return "; ".join("(" + ", ".join(map(short, row)) + ")" for row in sorted(rows, key=repr)[:3])


def ingest(drop: Drop, good: GoodLake, base: Path) -> tuple[dict | None, DropError | None, Path]:
    landing = base / "landing"
    folder = landing.resolve() / drop.source / DAY
    drop.write(folder)
    started = time.monotonic()
    try:
        measures = bounded(lambda: ingest_day(SOURCES[drop.source], DAY, LandingZone(uri=str(landing)), good.lake),
                           HANG_SECONDS)
        return measures, None, folder
    except DropError as exc:
        return None, exc, folder
    finally:
        SLOWEST[0] = max(SLOWEST[0], time.monotonic() - started)


def refusals(drop: Drop, folder: Path) -> tuple[bool, dict[str, Expect]]:
    """Whether the drop must fail, and what a failure may name: a file the generator broke (or
    left without rows, or made ambiguous), or the folder of a drop without `_SUCCESS` or rows."""
    if not drop.sentinel:
        return True, {str(folder): Expect("fails", ("incomplete drop",))}
    named = {str(folder / f.name): f.expect for f in drop.files if f.expect.verdict != "lands"}
    broken = any(f.expect.verdict == "fails" for f in drop.files)
    if not broken and not any(f.rows for f in drop.files):
        return True, named | {str(folder): Expect("fails", ("empty drop",))}
    return broken, named


def assert_failed_clearly(error: DropError, refused: dict[str, Expect]) -> None:
    assert error.file in refused, f"{error} names none of {sorted(refused)}"
    expect = refused[error.file]
    assert not expect.rules or error.rule.startswith(expect.rules), f"{error}: expected {expect}"
    assert expect.column in (None, error.column), f"{error}: expected {expect}"
    assert str(error).startswith(f"{error.file}: ") and error.rule in str(error), str(error)


def assert_landed_contract_rows(drop: Drop, measures: dict, good: GoodLake) -> None:
    """The day holds the distinct rows sent, typed as CONTRACT.md says, judged as broken exactly
    where the generator broke them; the rest of the lake is untouched."""
    columns = list(CONTRACT[drop.source])
    partition = good.lake.partition(RAW_TABLES[drop.source], DAY)
    table = pq.read_table(partition)
    assert table.schema.remove_metadata() == arrow_schema(drop.source)
    landed = [canonical(r, columns) for r in table.to_pylist()]
    sent = {canonical(r, columns) for f in drop.files for r in f.rows}
    assert len(landed) == len(set(landed)), "rows landed twice"
    assert set(landed) == sent, (f"landed, not sent: {shown(set(landed) - sent)}; "
                                 f"sent, not landed: {shown(sent - set(landed))}")
    assert measures["rows"] == len(sent) and measures["files"] == len(drop.files), measures
    _, failing, _ = contract_failures(Partition(good.lake, RAW_TABLES[drop.source], DAY), SOURCES[drop.source])
    reported = {(c, check if check in ("not_nullable", "field_uniqueness") else "value") for c, check in failing}
    assert reported == drop.broken_values, f"contract check reported {sorted(failing)}"
    day = str(partition.relative_to(good.root))
    assert without(snapshot(good.root), day) == without(good.before, day), "landing a day changed another file"


@pytest.mark.parametrize("source", list(CONTRACT))
@PROFILE
@given(data=st.data())
def test_a_fuzzed_drop_lands_contract_rows_or_fails_naming_the_file(good_lake, source, data):
    drop = data.draw(drops(source), label="drop")
    with tempfile.TemporaryDirectory() as base:
        try:
            measures, error, folder = ingest(drop, good_lake, Path(base))
            TALLY[source, "failed" if error else "landed"] += 1
            must_fail, refused = refusals(drop, folder)
            if error:
                assert snapshot(good_lake.root) == good_lake.before, "a failed drop changed the lake"
                assert_failed_clearly(error, refused)
            else:
                assert not must_fail, f"landed, though it must fail naming one of {sorted(refused)}"
                assert_landed_contract_rows(drop, measures, good_lake)
        finally:
            good_lake.restore()


def test_the_contract_here_is_the_declared_one():
    """The fuzz's CONTRACT.md columns are the ones `contracts.py` declares (names, order, types)."""
    for source, contract in SOURCES.items():
        assert arrow_schema(source) == contract.arrow_schema


# The findings of the fuzz (docs/RELIABILITY.md), each the smallest drop that showed it, now fixed.
WEATHER_ROW = {"region": ["north"], "observed_ts": pa.array([datetime.datetime(2026, 11, 1, 5, tzinfo=datetime.UTC)]),
               "temp_c": [4.5], "precip_mm": [0.0], "wind_kph": [10.0], "visibility_km": [8.0], "condition": ["rain"]}


def ingest_files(root: Path, source: str, files: dict[str, bytes]) -> Lake:
    """One day's drop of `files` (and _SUCCESS) ingested into an empty lake."""
    folder = root.resolve() / "landing" / source / DAY
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "_SUCCESS").write_bytes(b"")
    lake = Lake(root=str(root / "lake"))
    ingest_day(SOURCES[source], DAY, LandingZone(uri=str(root / "landing")), lake)
    return lake


def test_a_parquet_column_named_twice_fails_naming_the_file_and_the_column(tmp_path):
    """Finding 1: it crashed with a KeyError naming no file."""
    table = pa.table(WEATHER_ROW)
    sink = pa.BufferOutputStream()
    pq.write_table(table.append_column("region", table.column("region")), sink)
    with pytest.raises(DropError, match="column appears twice") as error:
        ingest_files(tmp_path, "weather", {"part-00000.parquet": sink.getvalue().to_pybytes()})
    assert error.value.file == str(tmp_path.resolve() / "landing" / "weather" / DAY / "part-00000.parquet")
    assert error.value.column == "region"


def test_a_naive_csv_timestamp_is_utc_whatever_the_rows_before_it(tmp_path):
    """CONTRACT.md: a timezone-naive timestamp is read as UTC. Finding 2: it took the +05:30 of the
    row before it."""
    text = ("vehicle_id,event_ts,lat,lon,speed_kph,heading_deg,ignition_on\n"
            "V1,2026-11-01T05:30:00+05:30,52.1,4.3,0.0,,true\n"
            "V2,2026-11-01T06:00:00,52.1,4.3,0.0,,true\n")
    lake = ingest_files(tmp_path, "gps", {"part-00000.csv": text.encode()})
    landed = {r["vehicle_id"]: r["event_ts"] for r in pq.read_table(lake.partition("raw/gps", DAY)).to_pylist()}
    assert landed == {"V1": datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.UTC),
                      "V2": datetime.datetime(2026, 11, 1, 6, 0, tzinfo=datetime.UTC)}, landed
