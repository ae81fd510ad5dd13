"""What the UI shows: rounded numbers, numeric entries to plot, typed columns, links."""

import pyarrow as pa

import dagster as dg
from meridian_assets.metadata import UI_ENV, column_schema, null_rates, partition_link, readable


def test_floats_keep_four_significant_digits_everywhere():
    shown = readable({
        "mae": 8.691234567, "fraction": 0.000123456, "big": 123456.789, "rows": 1100, "name": "v1",
        "days": dg.MetadataValue.json({"2026-11-01": {"value": 0.333333333}}),
        "duration": dg.MetadataValue.float(0.355279), "nan": float("nan"),
        "schema": column_schema(pa.schema([("a", pa.int64())])),
    })
    assert shown["mae"] == 8.691 and shown["fraction"] == 0.0001235 and shown["big"] == 123500.0
    assert shown["rows"] == 1100 and shown["name"] == "v1"
    assert shown["days"].value == {"2026-11-01": {"value": 0.3333}}
    assert shown["duration"].value == 0.3553
    assert shown["nan"] != shown["nan"]
    assert shown["schema"].columns[0].name == "a"


def test_null_rates_give_the_worst_column_as_a_number_the_ui_plots():
    rates = null_rates({"speed_kph": 0.01, "heading_deg": 0.3})
    assert rates["max_null_fraction"] == 0.3 and rates["max_null_column"] == "heading_deg"
    assert rates["null_fraction"].value == {"speed_kph": 0.01, "heading_deg": 0.3}
    assert null_rates({})["max_null_fraction"] == 0.0
    assert null_rates({"speed_kph": 0.0})["max_null_column"] == "none"


def test_columns_carry_their_written_types():
    schema = column_schema(pa.schema([("delivery_id", pa.string()), ("eta", pa.timestamp("us", "UTC"))]))
    assert [(c.name, c.type) for c in schema.columns] == [("delivery_id", "string"), ("eta", "timestamp[us, tz=UTC]")]


def test_partition_links_follow_the_configured_ui(monkeypatch):
    monkeypatch.setenv(UI_ENV, "https://dagster.meridian.example/")
    assert partition_link("delivery_time_model", "2026-11-09").value == (
        "https://dagster.meridian.example/assets/delivery_time_model?view=partitions&partition=2026-11-09")
