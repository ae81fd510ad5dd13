"""The start of history is not a failure; a gap in it still is.

The feature checks run on a hand-made lake: customer_features of day D is built from the
customer snapshot of D-1, which does not exist on the platform's first day.
"""

from __future__ import annotations

import pyarrow as pa

from meridian_assets.lake import Lake
from meridian_assets.contracts import FEATURES
from meridian_assets.defs.features.checks import feature_rules
from meridian_assets.lake import RAW_TABLES, write_partition
from meridian_assets.quality import Partition

TABLE = "features/customer"
CUSTOMERS = pa.table({"customer_id": ["C1", "C2"], "region": ["north", "south"], "dock_type": ["dock", "ground"],
                      "requires_appointment": [True, False], "avg_unload_min": [9.0, 28.0]})


def rules() -> dict:
    return {r.name: r for r in feature_rules(FEATURES["customer"])}


def empty_features(lake, day: str) -> Partition:
    write_partition(lake, TABLE, day, FEATURES["customer"].arrow_schema.empty_table())
    return Partition(Lake(root=str(lake)), TABLE, day)


def test_the_first_day_passes_with_no_history_yet(tmp_path):
    write_partition(tmp_path, RAW_TABLES["customers"], "2026-11-01", CUSTOMERS)  # the day itself only
    day_one = empty_features(tmp_path, "2026-11-01")
    for name in ("row_count_vs_upstream", "null_fractions"):
        outcome = rules()[name].evaluate(day_one)
        assert outcome.passed, (name, outcome.description)
        assert "no history yet" in outcome.description or outcome.value == "no history yet"


def test_a_gap_in_history_fails(tmp_path):
    for day in ("2026-10-30", "2026-11-01"):  # 2026-10-31, the snapshot D-1 of 2026-11-01, is missing
        write_partition(tmp_path, RAW_TABLES["customers"], day, CUSTOMERS)
    empty_features(tmp_path, "2026-10-31")  # an earlier feature day exists: not the first day
    outcome = rules()["row_count_vs_upstream"].evaluate(empty_features(tmp_path, "2026-11-01"))
    assert not outcome.passed
    assert "missing" in outcome.description
    assert not rules()["null_fractions"].evaluate(Partition(Lake(root=str(tmp_path)), TABLE, "2026-11-01")).passed
