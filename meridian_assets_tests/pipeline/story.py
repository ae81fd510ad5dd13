"""The story's shared ground: eight good days from an empty instance and lake (60 vehicles,
another seed than the vendor's default, one GPS day as csv.gz), and how a test runs a day."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import dagster as dg
from meridian_assets.definitions import ASSETS, CHECKS, defs
from meridian_assets.defs.ml import model as dtm
from meridian_assets.defs.ml import store
from meridian_assets.defs.resources import LandingZone, spark_resource
from meridian_assets.guard import judgements
from meridian_assets.lake import Lake
from spark_jobs.layout import days_between

GOOD = days_between("2026-11-01", "2026-11-08")
BAD_DAY = "2026-11-09"
NEXT_DAY = "2026-11-10"
# Not the vendor's defaults: another fleet size and seed, and one day of GPS as csv.gz.
VEHICLES, SEED = 60, 23
CSV_DAY = GOOD[2]
MODEL = dg.AssetKey("delivery_time_model")


def resources(root: Path) -> dict:
    definitions = defs()
    return {
        **definitions.resources,
        "landing": LandingZone(uri=str(root / "landing")),
        "lake": Lake(root=str(root / "lake")),
        "pyspark": spark_resource("local[2]"),
    }


def run(root: Path, instance: dg.DagsterInstance, *, day: str | None = None, select=None, tags=None):
    return dg.materialize(
        [*ASSETS, *CHECKS], selection=select, partition_key=day, instance=instance, resources=resources(root),
        tags=tags or {}, raise_on_error=False,
    )


def step_failures(result) -> list[str]:
    return [e.event_specific_data.error.message for e in result.get_step_failure_events()]


def verdict(instance, check_key: dg.AssetCheckKey, day: str) -> str | None:
    """The check's newest verdict on `day`, or None when it has none."""
    judgement = judgements(instance, check_key).get(day)
    return judgement.verdict if judgement else None


def gate_outcome(instance, day: str) -> str | None:
    return verdict(instance, dg.AssetCheckKey(MODEL, "evaluation_gate"), day)



def rewrite_gps(root: Path, day: str, change) -> None:
    """Apply `change` to the day's GPS drop, as a vendor would have delivered it."""
    for path in sorted((root / "landing" / "gps" / day).glob("part-*.parquet")):
        table = pq.read_table(path)
        pq.write_table(change(table), path)


def partial_fleet(root: Path, day: str = BAD_DAY) -> None:
    """A third of the fleet reports: the GPS checks fleet_reporting and volume_vs_history fail."""
    def keep_a_third(table: pa.Table) -> pa.Table:
        vehicles = sorted(set(table.column("vehicle_id").to_pylist()))
        return table.filter(pa.compute.is_in(table.column("vehicle_id"), pa.array(vehicles[: len(vehicles) // 3])))
    rewrite_gps(root, day, keep_a_third)


def deploy_an_oracle(lake: Path, day: str) -> None:
    """Deploy a model trained on `day`'s answers too: no honest candidate for `day` beats it."""
    days = sorted(p.name.removeprefix("date=") for p in (lake / "ml_feature_table").glob("date=*"))
    frames = [pd.read_parquet(lake / "ml_feature_table" / f"date={d}").assign(date=d) for d in days if d <= day]
    oracle = dtm.train(dtm.labelled(pd.concat(frames)))
    models = Lake(root=str(lake))
    info = {**store.load_info(models, store.deployed(models)["version"]), "holdout": day}
    store.save_version(models, "oracle", oracle, info)
    store.promote(models, "oracle")
