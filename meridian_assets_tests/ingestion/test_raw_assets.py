"""Raw ingestion materialized in process: good drops land, bad drops fail clearly and harm nothing."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

import dagster as dg
from meridian_assets import profiles
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.ingestion.assets import raw_assets
from meridian_assets.defs.ingestion.checks import raw_checks
from meridian_assets.defs.ingestion import drops
from meridian_assets.defs.ingestion.drops import read_file
from meridian_assets.lake import Lake
from meridian_assets.defs.resources import LandingZone
from meridian_assets.synthetic import write_day

DAY1, DAY2 = "2026-11-01", "2026-11-02"
ASSETS = {a.key.to_user_string(): a for a in raw_assets}


def resources(landing: Path | str, lake: Path) -> dict:
    return {"landing": LandingZone(uri=str(landing)), "lake": Lake(root=str(lake))}


def materialize(landing, lake, day=DAY1, assets=raw_assets):
    return dg.materialize(
        assets, partition_key=day, resources=resources(landing, lake), raise_on_error=False
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(str(e.event_specific_data.error.message) for e in result.get_step_failure_events())


def tree_digest(folder: Path) -> str:
    """Content and names of every file below `folder`: equal digests mean nothing changed."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture()
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    for day in (DAY1, DAY2):
        write_day(root, day, vehicles=6, seed=3)
    return root


def drop_frame(landing: Path, source: str, day: str) -> pd.DataFrame:
    return pd.concat(pd.read_parquet(p) for p in sorted((landing / source / day).glob("part-*.parquet")))


def test_every_source_lands_in_contract_schema(landing, tmp_path):
    lake = tmp_path / "lake"
    result = materialize(landing, lake)
    assert result.success
    for contract in SOURCES.values():
        table = pq.read_table(lake / "raw" / contract.name / f"date={DAY1}")
        assert table.schema.remove_metadata() == contract.arrow_schema
        assert table.num_rows == len(drop_frame(landing, contract.name, DAY1).drop_duplicates())
        meta = result.asset_materializations_for_node(contract.asset_name)[0].metadata
        assert meta["dagster/partition_row_count"].value == table.num_rows
        assert meta["files"].value >= 1 and meta["bytes"].value > 0
    gps_meta = result.asset_materializations_for_node("raw_gps_telemetry")[0].metadata
    assert gps_meta["distinct_vehicle_id"].value == 6
    assert gps_meta["min_time"].value.startswith(DAY1)


def test_each_partition_carries_its_profile(landing, tmp_path):
    """Written in the staged folder, so a re-delivery replaces data and profile together."""
    lake = tmp_path / "lake"
    assert materialize(landing, lake, assets=[ASSETS["raw_gps_telemetry"]]).success
    folder = lake / "raw" / "gps" / f"date={DAY1}"
    stored = json.loads((folder / profiles.PROFILE_FILE).read_text())
    assert stored == profiles.measure(folder, SOURCES["gps"])
    assert stored["rows"] == len(drop_frame(landing, "gps", DAY1).drop_duplicates())
    assert len(stored["entities"]) == 6
    half = drop_frame(landing, "gps", DAY1).query("vehicle_id < 'V0004'")
    for part in (landing / "gps" / DAY1).glob("part-*"):
        part.unlink()
    pq.write_table(pa.Table.from_pandas(half, preserve_index=False), landing / "gps" / DAY1 / "part-00000.parquet")
    assert materialize(landing, lake, assets=[ASSETS["raw_gps_telemetry"]]).success
    assert json.loads((folder / profiles.PROFILE_FILE).read_text())["rows"] == len(half.drop_duplicates())


def test_rematerializing_replaces_and_duplicates_are_dropped(landing, tmp_path):
    lake = tmp_path / "lake"
    folder = landing / "deliveries" / DAY1
    original = drop_frame(landing, "deliveries", DAY1)
    # The vendor re-sends half the rows in a second file: exact duplicates are not data.
    pq.write_table(pa.Table.from_pandas(original.iloc[: len(original) // 2], preserve_index=False),
                   folder / "part-99999.parquet")
    assets = [ASSETS["raw_deliveries"]]
    for _ in range(2):
        assert materialize(landing, lake, assets=assets).success
    written = pd.read_parquet(lake / "raw" / "deliveries" / f"date={DAY1}")
    assert len(written) == len(original)
    assert sorted(written["delivery_id"]) == sorted(original["delivery_id"])
    assert [p.name for p in (lake / "raw" / "deliveries").iterdir()] == [f"date={DAY1}"]


def test_streamed_ingestion_keeps_the_rows_a_whole_day_frame_kept(landing, tmp_path):
    """The rows of a GPS day with duplicates inside a file and across files (a re-sent file, a
    CSV copy of part of it) equal the old way's: every part conformed, concatenated in pandas
    and drop_duplicates() applied."""
    lake, folder = tmp_path / "lake", landing / "gps" / DAY1
    first = pq.read_table(next(folder.glob("part-*.parquet")))
    pq.write_table(pa.concat_tables([first.slice(0, 50), first.slice(0, 50)]), folder / "part-00097.parquet")
    pq.write_table(first, folder / "part-00098.parquet")
    pacsv.write_csv(first.slice(100, 30), folder / "part-00099.csv")
    contract = SOURCES["gps"]
    parts = [table for p in sorted(folder.glob("part-*")) for table in read_file(p, p.name, contract)]
    expected = pd.concat([t.to_pandas() for t in parts]).drop_duplicates(ignore_index=True)

    result = materialize(landing, lake, assets=[ASSETS["raw_gps_telemetry"]])
    assert result.success, failure_message(result)
    written = pq.read_table(lake / "raw" / "gps" / f"date={DAY1}")
    assert written.schema.remove_metadata() == contract.arrow_schema
    columns = list(expected.columns)
    assert_frame_equal(written.to_pandas().sort_values(columns, ignore_index=True),
                       expected.sort_values(columns, ignore_index=True))
    meta = result.asset_materializations_for_node("raw_gps_telemetry")[0].metadata
    assert meta["dagster/partition_row_count"].value == len(expected) < sum(t.num_rows for t in parts)


def _rename_column(folder: Path):
    path = next(folder.glob("part-*.parquet"))
    table = pq.read_table(path)
    pq.write_table(table.rename_columns(["speed" if n == "speed_kph" else n for n in table.column_names]), path)
    return "speed_kph", "required column missing"


def _wrong_type(folder: Path):
    path = next(folder.glob("part-*.parquet"))
    table = pq.read_table(path)
    index = table.column_names.index("speed_kph")
    pq.write_table(table.set_column(index, "speed_kph", table.column("speed_kph").cast(pa.string())), path)
    return "speed_kph", "must be double"


def _corrupt_file(folder: Path):
    path = next(folder.glob("part-*.parquet"))
    path.write_bytes(path.read_bytes()[: 200])
    return path.name, "unreadable file"


def _no_sentinel(folder: Path):
    (folder / "_SUCCESS").unlink()
    return str(folder), "incomplete drop"


def _empty_day(folder: Path):
    for path in folder.glob("part-*"):
        path.unlink()
    return str(folder), "empty drop"


def _empty_file(folder: Path):
    path = next(folder.glob("part-*.parquet"))
    pq.write_table(pq.read_table(path).slice(0, 0), path)
    for other in folder.glob("part-*.parquet"):
        if other != path:
            other.unlink()
    return str(folder), "empty drop"


def _empty_null_typed_file(folder: Path):
    """A writer with no rows to go on types every column null (pandas' empty object columns)."""
    for path in folder.glob("part-*"):
        path.unlink()
    columns = ["vehicle_id", "event_ts", "lat", "lon", "speed_kph", "heading_deg", "ignition_on"]
    pq.write_table(pa.table({c: pa.nulls(0) for c in columns}), folder / "part-00000.parquet")
    return str(folder), "empty drop"


def _as_csv(folder: Path) -> bytes:
    """The drop's rows as one CSV text, its part files removed."""
    frame = pd.concat(pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet")))
    for path in folder.glob("part-*"):
        path.unlink()
    return frame.to_csv(index=False).encode()


def _truncated_csv_gz(folder: Path):
    data = gzip.compress(_as_csv(folder))
    (folder / "part-00000.csv.gz").write_bytes(data[: len(data) // 2])
    return "part-00000.csv.gz", "unreadable file"


def _utf16_csv(folder: Path):
    (folder / "part-00000.csv").write_bytes(_as_csv(folder).decode().encode("utf-16"))
    return "part-00000.csv", "unreadable file"


def _parquet_named_csv(folder: Path):
    path = next(folder.glob("part-*.parquet"))
    path.rename(path.with_suffix(".csv"))
    return path.with_suffix(".csv").name, "unreadable file"


def _csv_named_parquet(folder: Path):
    (folder / "part-00000.parquet").write_bytes(_as_csv(folder))
    return "part-00000.parquet", "unreadable file"


@pytest.mark.parametrize(
    "break_drop",
    [_rename_column, _wrong_type, _corrupt_file, _no_sentinel, _empty_day, _empty_file, _empty_null_typed_file,
     _truncated_csv_gz, _utf16_csv, _parquet_named_csv, _csv_named_parquet],
)
def test_bad_drop_fails_clearly_and_keeps_good_partitions(landing, tmp_path, break_drop):
    lake = tmp_path / "lake"
    gps = [ASSETS["raw_gps_telemetry"]]
    assert materialize(landing, lake, DAY1, gps).success
    assert materialize(landing, lake, DAY2, gps).success
    before = tree_digest(lake)

    # Day 2 is re-delivered broken: the run fails and the good day-2 data stays as it was.
    must_name, rule = break_drop(landing / "gps" / DAY2)
    result = materialize(landing, lake, DAY2, gps)
    assert not result.success
    message = failure_message(result)
    assert must_name in message and rule in message, message
    assert tree_digest(lake) == before
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert failure.metadata["rule"].value.startswith(rule)


def _bom_csv(folder: Path) -> None:
    (folder / "part-00000.csv").write_bytes(b"\xef\xbb\xbf" + _as_csv(folder))


def _extra_column(folder: Path) -> None:
    for path in folder.glob("part-*.parquet"):
        table = pq.read_table(path)
        pq.write_table(table.append_column("driver_name", pa.array(["n/a"] * table.num_rows)), path)


def _file_sent_twice(folder: Path) -> None:
    first = sorted(folder.glob("part-*.parquet"))[0]
    (folder / "part-99999.parquet").write_bytes(first.read_bytes())


@pytest.mark.parametrize("vary", [_bom_csv, _extra_column, _file_sent_twice])
def test_harmless_variations_land_the_same_rows(landing, tmp_path, vary):
    """A UTF-8 byte-order mark, a column the contract does not name (dropped) and a part file
    delivered twice (deduplicated) change nothing in the day."""
    gps = [ASSETS["raw_gps_telemetry"]]
    assert materialize(landing, tmp_path / "clean", assets=gps).success
    vary(landing / "gps" / DAY1)
    assert materialize(landing, tmp_path / "varied", assets=gps).success
    key = ["vehicle_id", "event_ts", "lat", "lon"]
    clean, varied = (pd.read_parquet(tmp_path / lake / "raw" / "gps" / f"date={DAY1}").sort_values(key, ignore_index=True)
                     for lake in ("clean", "varied"))
    assert_frame_equal(varied, clean)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_gps_csv_drops_are_normalized(landing, tmp_path, suffix):
    folder = landing / "gps" / DAY1
    expected = drop_frame(landing, "gps", DAY1).drop_duplicates().sort_values(["vehicle_id", "event_ts"])
    text = expected.assign(
        # A vendor on local time: the same instants written with a +01:00 offset.
        event_ts=expected["event_ts"].dt.tz_convert("Europe/Amsterdam").map(lambda t: t.isoformat())
    ).to_csv(index=False)
    for path in folder.glob("part-*"):
        path.unlink()
    data = gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode()
    (folder / f"part-00000{suffix}").write_bytes(data)
    lake = tmp_path / "lake"
    assert materialize(landing, lake, assets=[ASSETS["raw_gps_telemetry"]]).success
    written = pd.read_parquet(lake / "raw" / "gps" / f"date={DAY1}").sort_values(["vehicle_id", "event_ts"])
    pd.testing.assert_frame_equal(written.reset_index(drop=True), expected.reset_index(drop=True),
                                  check_dtype=False)
    assert str(written["event_ts"].dtype) == "datetime64[us, UTC]"


def test_nanosecond_and_naive_timestamps_become_utc_micros(landing, tmp_path):
    path = next((landing / "weather" / DAY1).glob("part-*.parquet"))
    table = pq.read_table(path)
    index = table.column_names.index("observed_ts")
    naive_ns = table.column("observed_ts").cast(pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("ns"))
    pq.write_table(table.set_column(index, "observed_ts", naive_ns), path)
    lake = tmp_path / "lake"
    assert materialize(landing, lake, assets=[ASSETS["raw_weather"]]).success
    written = pq.read_table(lake / "raw" / "weather" / f"date={DAY1}")
    assert written.schema.field("observed_ts").type == pa.timestamp("us", tz="UTC")
    assert sorted(written.column("observed_ts").to_pylist()) == sorted(table.column("observed_ts").to_pylist())


@pytest.mark.parametrize("suffix", [".parquet", ".csv.gz"])
def test_an_enormous_single_file_is_read_a_batch_at_a_time(landing, tmp_path, monkeypatch, suffix):
    """A whole day in one file, many batches long (batches made small here: the figures at 40,000
    vehicles are in docs/BENCHMARKS.md): never whole in memory, and the same rows land."""
    folder = landing / "gps" / DAY1
    (part,) = folder.glob("part-*.parquet")
    day = pq.read_table(part)
    part.unlink()
    enormous = folder / f"part-00000{suffix}"
    if suffix == ".parquet":
        pq.write_table(day, enormous)  # one row group: read through a buffer all the same
    else:
        with gzip.open(enormous, "wb") as out:
            pacsv.write_csv(day, out)
    monkeypatch.setattr(drops, "BATCH_ROWS", 500)
    monkeypatch.setattr(drops, "CSV_BLOCK_BYTES", 32 << 10)

    batches = [t.num_rows for t in read_file(enormous, enormous.name, SOURCES["gps"])]
    assert len(batches) > 5 and max(batches) <= (500 if suffix == ".parquet" else len(day) // 5), batches
    result = materialize(landing, tmp_path / "lake", assets=[ASSETS["raw_gps_telemetry"]])
    assert result.success, failure_message(result)
    written = pq.read_table(tmp_path / "lake" / "raw" / "gps" / f"date={DAY1}")
    assert sorted(map(str, written.to_pylist())) == sorted(map(str, day.cast(written.schema).to_pylist()))


def test_range_run_ingests_every_day_in_one_run(landing, tmp_path):
    lake = tmp_path / "lake"
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [*raw_assets, *raw_checks], resources=resources(landing, lake), instance=instance,
        tags={"dagster/asset_partition_range_start": DAY1, "dagster/asset_partition_range_end": DAY2},
    )
    assert result.success
    for source in SOURCES:
        assert sorted(p.name for p in (lake / "raw" / source).iterdir()) == [f"date={DAY1}", f"date={DAY2}"]
    # Each check's result on each day, as a day's own run records it: none without a day.
    judged = {}
    for evaluation in result.get_asset_check_evaluations():
        judged.setdefault(evaluation.asset_check_key, []).append(evaluation.partition)
    assert len(judged) > len(SOURCES)
    assert all(sorted(days) == [DAY1, DAY2] for days in judged.values()), judged
    # ... and each judges that day's materialization: current, as Dagster's own per-partition state says.
    info = instance.event_log_storage.get_asset_check_partition_info(list(judged), partition_keys=[DAY1, DAY2])
    assert len(info) == 2 * len(judged)
    assert all(i.is_current and i.latest_execution_status.value == "SUCCEEDED" for i in info), info


