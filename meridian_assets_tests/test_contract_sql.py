"""The contract compiled to SQL judges as pandera does: same broken (column, check) pairs, same
row counts, on a day of every source with each check of each column broken on its own rows."""

from __future__ import annotations

import pandas as pd
import pandera.errors
import pyarrow as pa
import pytest

from meridian_assets.lake import Lake
from meridian_assets.contracts import FEATURES, SOURCES, Contract
from meridian_assets.lake import RAW_TABLES, write_partition
from meridian_assets.quality import Partition, contract_failures, contract_rule
from meridian_assets.synthetic import write_day

DAY = "2026-11-03"


def bad_value(check, value):
    """A value that breaks `check` (pandera's built-ins and the contracts' custom one)."""
    s = check.statistics
    return {
        "in_range": lambda: s["max_value"] + (1 if s["include_max"] else 0),
        "greater_than_or_equal_to": lambda: s["min_value"] - 1,
        "greater_than": lambda: s["min_value"],
        "isin": lambda: "not-allowed",
        "on_the_hour": lambda: value + pd.Timedelta(minutes=1),
    }[check.name]()


def broken(frame: pd.DataFrame, contract: Contract) -> pd.DataFrame:
    """Two rows per check break it; a nullable checked column also gets nulls, which pass."""
    frame = frame.reset_index(drop=True).astype(object)  # any value fits any column
    row = 0
    for col in contract.columns:
        cases = [lambda r, c=check: bad_value(c, frame.at[r, col.name]) for check in contract.pandera_schema.columns[col.name].checks]
        cases.append(lambda r: None)  # null: breaks not_nullable, or nothing where nulls are allowed
        if col.unique:
            cases.append(lambda r: frame.at[len(frame) - 1, col.name])  # a value of an untouched row
        for case in cases:
            for r in (row, row + 1):
                frame.at[r, col.name] = case(r)
            row += 2
    return frame


def pandera_counts(frame: pd.DataFrame, contract: Contract) -> dict[tuple[str, str], int]:
    try:
        contract.pandera_schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        counts = exc.failure_cases.groupby(["column", "check"]).size().to_dict()
        # pandas reads a bool or int column holding nulls as object or float: a dtype failure of
        # pandas' making, where the file's own type is right (the SQL reads that type).
        return {key: n for key, n in counts.items() if not key[1].startswith("dtype(")}
    return {}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    write_day(root, DAY, vehicles=30, seed=11)
    return root


@pytest.mark.parametrize("source", list(SOURCES))
def test_sql_contract_breaks_what_pandera_breaks(tmp_path, landing, source):
    contract = SOURCES[source]
    drop = pd.concat(pd.read_parquet(p) for p in sorted((landing / source / DAY).glob("part-*.parquet")))
    bad = broken(drop.drop_duplicates(subset=list(contract.key)), contract)
    write_partition(tmp_path, RAW_TABLES[source], DAY, pa.Table.from_pandas(bad, schema=contract.arrow_schema,
                                                                           preserve_index=False))
    partition = Partition(Lake(root=str(tmp_path)), RAW_TABLES[source], DAY)
    expected = pandera_counts(partition.frame, contract)
    rows, failing, cases = contract_failures(partition, contract)
    assert expected and failing == expected
    assert rows == len(bad)
    # Failure cases name the lake file and row of each broken value.
    assert {(c, k) for c, k, *_ in cases} == set(expected)
    assert all(file.endswith(".parquet") for _, check, _, file, _ in cases if check != "field_uniqueness")


def test_structure_breaks_are_named(tmp_path):
    """A missing column, a wrong type and an extra column (what a Spark job change could write)."""
    contract = FEATURES["weather"]
    frame = pd.DataFrame({"region": ["north"], "observed_ts": [pd.Timestamp(DAY, tz="UTC")], "temp_c": ["warm"],
                          "precip_mm": [0.0], "wind_kph": [1.0], "visibility_km": [9.0], "condition": ["clear"],
                          "surprise": [1]})
    write_partition(tmp_path, "features/weather", DAY, pa.Table.from_pandas(frame, preserve_index=False))
    outcome = contract_rule(contract).evaluate(Partition(Lake(root=str(tmp_path)), "features/weather", DAY))
    assert not outcome.passed
    for text in ("column 'precip_prev_3h_mm' breaks column_in_dataframe", "column 'temp_c' breaks dtype('double')",
                 "column 'surprise' breaks column_in_schema"):
        assert text in outcome.description
