"""The eight good days, built once for every test of the story (bad days, the daemon)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from filelock import FileLock

import dagster as dg
from meridian_assets.lake import Lake
from meridian_assets.defs.ml import store
from meridian_assets.synthetic import write_day
from meridian_assets_tests.pipeline.story import (
    BAD_DAY, CSV_DAY, GOOD, NEXT_DAY, SEED, VEHICLES, run, step_failures,
)


BACKFILLED = GOOD[:6]  # its csv.gz day included; days 7 and 8 then run one by one, every asset selected


@pytest.fixture(scope="session")
def good_history(tmp_path_factory, spark, worker_id):
    """Eight good days from an empty instance and lake, built once per test run: with pytest-xdist
    the first worker to ask builds them in the run's shared folder, under a lock, and the others
    read them (every test works on a copy)."""
    if worker_id == "master":
        return build_good_history(tmp_path_factory.mktemp("history"))
    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, common to its workers
    root = shared / "history"
    with FileLock(str(shared / "history.lock")):
        if not (root / "built").exists():
            shutil.rmtree(root, ignore_errors=True)
            build_good_history(root)
            (root / "built").touch()
    return root


def build_good_history(root: Path) -> Path:
    """The first six days' data in one range run, as a backfill builds them, and their models
    day by day; then each day with every asset."""
    root.mkdir(parents=True, exist_ok=True)
    for day in [*GOOD, BAD_DAY, NEXT_DAY]:
        write_day(root / "landing", day, vehicles=VEHICLES, seed=SEED,
                  gps_format="csv.gz" if day == CSV_DAY else "parquet", truth=root / "truth")
    (root / "dagster_home").mkdir()
    instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))
    runs = [(f"{BACKFILLED[0]}..{BACKFILLED[-1]}", run(
        root, instance, select=dg.AssetSelection.groups("raw_ingestion", "features", "ml_ready"),
        tags={"dagster/asset_partition_range_start": BACKFILLED[0],
              "dagster/asset_partition_range_end": BACKFILLED[-1]}))]
    runs += [(day, run(root, instance, day=day, select=dg.AssetSelection.groups("ml"))) for day in BACKFILLED]
    runs += [(day, run(root, instance, day=day)) for day in GOOD[len(BACKFILLED):]]
    for days, result in runs:
        # Every run is green: a candidate the gate holds back is a decision, not a failure.
        assert result.success, (days, step_failures(result))
    assert store.deployed(Lake(root=str(root / "lake"))), "eight good days from nothing end with a deployed model"
    instance.dispose()
    return root


@pytest.fixture()
def history(good_history, tmp_path):
    """A private copy of the eight good days (lake, landing and Dagster instance)."""
    root = tmp_path / "copy"
    shutil.copytree(good_history, root)
    instance = dg.DagsterInstance.local_temp(str(root / "dagster_home"))
    yield root, instance
    instance.dispose()

