"""What the UI shows of a write, a check or a decision: numbers a person reads at a glance,
numeric where the UI plots them over partitions, and links to where things are."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from urllib.parse import quote

import pyarrow as pa

import dagster as dg

UI_ENV = "MERIDIAN_UI_URL"  # where people open the UI: links in metadata and alerts
DEFAULT_UI = "http://127.0.0.1:3000"
SIGNIFICANT_DIGITS = 4


def ui_url() -> str:
    return os.environ.get(UI_ENV, DEFAULT_UI).rstrip("/")


def partition_link(asset: str, day: str) -> dg.MetadataValue:
    """The asset's page opened on one partition."""
    return dg.MetadataValue.url(f"{ui_url()}/assets/{quote(asset)}?view=partitions&partition={day}")


def _round(value):
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        return float(round(value, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))))
    if isinstance(value, dg.FloatMetadataValue) and value.value is not None:
        return dg.MetadataValue.float(_round(value.value))
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if type(value) in (list, tuple):  # not Dagster's records (a TableSchema is a tuple)
        return [_round(v) for v in value]
    return value


def readable(metadata: Mapping[str, object]) -> dict[str, object]:
    """Floats to four significant digits (in JSON values too), not fifteen."""
    return {
        key: dg.MetadataValue.json(_round(value.value)) if isinstance(value, dg.JsonMetadataValue) else _round(value)
        for key, value in metadata.items()
    }


def null_rates(null_fraction: Mapping[str, float]) -> dict[str, object]:
    """Per column (a table to read) and the worst column's (a number the UI plots over days)."""
    worst = max(null_fraction, key=null_fraction.get, default=None)
    highest = float(null_fraction[worst]) if worst is not None else 0.0
    return {
        "null_fraction": dg.MetadataValue.json(dict(null_fraction)),
        "max_null_fraction": highest,
        "max_null_column": worst if highest > 0 else "none",
    }


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """The columns as written, with their Arrow types."""
    return dg.TableSchema(columns=[dg.TableColumn(field.name, str(field.type)) for field in schema])
