"""RELIABILITY row 14: GPS pings that share a (vehicle_id, event_ts) key but are not exact copies.

Ingestion keeps both (only exact copies are dropped: they are not data), and `unique_key` judges
the share of repeated keys against its 1% allowance: a vendor's few double reports pass, more
fail, with the share and the allowance named.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dagster as dg
from meridian_assets.contracts import SOURCES
from meridian_assets.defs.ingestion.checks import raw_rules
from meridian_assets.lake import Lake
from meridian_assets.quality import Partition
from meridian_assets_tests.ingestion.test_raw_assets import ASSETS, DAY1, drop_frame, materialize
from meridian_assets_tests.ingestion.test_raw_assets import landing  # noqa: F401  (its drops fixture)


@pytest.mark.parametrize(("share", "passes"), [(0.009, True), (0.011, False)])
def test_near_duplicate_keys_land_and_are_judged_against_one_percent(landing, tmp_path, share, passes):
    folder = landing / "gps" / DAY1
    pings = drop_frame(landing, "gps", DAY1).drop_duplicates()
    # Repeated keys over all rows after the extra ones land: n / (len + n) just below or above `share`.
    repeats = int(share * len(pings) / (1 - share)) + (0 if passes else 1)
    again = pings.sample(repeats, random_state=1).assign(speed_kph=lambda f: f["speed_kph"] + 0.5)
    pq.write_table(pa.Table.from_pandas(again, preserve_index=False), folder / "part-99999.parquet")

    lake = tmp_path / "lake"
    assert materialize(landing, lake, assets=[ASSETS["raw_gps_telemetry"]]).success
    landed = pd.read_parquet(lake / "raw" / "gps" / f"date={DAY1}")
    assert len(landed) == len(pings) + repeats, "a different reading of the same key is kept, not merged"

    unique_key = next(r for r in raw_rules(SOURCES["gps"]) if r.name == "unique_key")
    outcome = unique_key.evaluate(Partition(Lake(root=str(lake)), "raw/gps", DAY1))
    assert outcome.value == pytest.approx(repeats / (len(pings) + repeats), abs=1e-6)
    assert (outcome.value < 0.01) == passes  # the setup is on the side of 1% the case names
    assert outcome.passed is passes and outcome.threshold == 0.01
    assert unique_key.blocking and outcome.severity == dg.AssetCheckSeverity.ERROR
    assert f"{repeats} rows repeat a (vehicle_id, event_ts)" in outcome.description
