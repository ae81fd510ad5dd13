"""A run's process killed (SIGKILL) at the worst moment of each lake writer that
deploy/test_postgres.py does not kill: a feature group's, the ml table's and the model pointer's.
The new data is fully staged and the swap has not happened yet. The previous content stays whole,
and a re-run lands what an undisturbed run does. (That run monitoring then marks the dead run
failed is the daemon's part, shown there for the raw writer.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import dagster as dg
from meridian_assets.defs.ml import store
from meridian_assets.lake import Lake, content_version
from meridian_assets_tests.pipeline.story import GOOD, MODEL, run

PROJECT = Path(__file__).resolve().parents[2]
DAY = GOOD[-1]  # the deployed model's holdout: every writer has written it once already

# argv: the module and function to stop at, the story's root, the day, the assets to run.
KILLED_AT_THE_SWAP = """
import importlib, os, signal, sys
from pathlib import Path
import dagster as dg
module_name, function, root, day, *assets = sys.argv[1:]
module = importlib.import_module(module_name)
real = getattr(module, function)

def swap(*args, **kwargs):
    if function != "replace" or str(args[1]).endswith("deployed.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)

setattr(module, function, swap)
from meridian_assets_tests.pipeline.story import run
run(Path(root), dg.DagsterInstance.get(), day=day, select=dg.AssetSelection.assets(*assets))
sys.exit("the run ended without reaching the swap")
"""

WRITERS = {
    # where the writer swaps its staged data in, what it writes, the assets of the run
    "features": ("spark_jobs.tables", "publish_partition", f"features/route/date={DAY}", ["route_features"]),
    "ml table": ("meridian_assets.lake", "publish_partition", f"ml_feature_table/date={DAY}", ["ml_feature_table"]),
    "model pointer": ("os", "replace", "models/deployed.json", [MODEL.path[0], "deployed_model"]),
}


def snapshot(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())} if path.is_dir() else {path.name: path.read_bytes()}


def visible(folder: Path) -> list[str]:
    """What readers see in the table's folder (they skip dot names: staging folders, temporary files)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_run_killed_at_the_swap_keeps_the_previous_content_and_its_rerun_lands_the_same(history, writer):
    root, instance = history
    module, function, written, assets = WRITERS[writer]
    target = root / "lake" / written
    before, seen_before = snapshot(target), visible(target.parent)
    data_before = content_version(pq.read_table(target)) if target.is_dir() else None
    deployed_before = store.deployed(Lake(root=str(root / "lake")))

    child = subprocess.run(
        [sys.executable, "-c", KILLED_AT_THE_SWAP, module, function, str(root), DAY, *assets],
        cwd=PROJECT, env={**os.environ, "DAGSTER_HOME": str(root / "dagster_home")},
        capture_output=True, text=True, timeout=600,
    )

    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert snapshot(target) == before, "the previous content is whole while the new one is staged"
    if target.is_dir():  # (beside the pointer, the killed run's candidate is kept: it was whole)
        assert visible(target.parent) == seen_before, "nothing half-written or doubled where readers look"
    (killed,) = instance.get_runs(limit=1)
    assert killed.status == dg.DagsterRunStatus.STARTED  # dead before it could report anything more

    rerun = run(root, instance, day=DAY, select=dg.AssetSelection.assets(*assets))

    assert rerun.success
    if target.is_dir():
        assert visible(target.parent) == seen_before
        # the same rows (row order and float noise below 1e-6 aside, as every data version)
        assert content_version(pq.read_table(target)) == data_before, "the re-run lands an undisturbed run's rows"
    else:
        # An undisturbed run deploys its own candidate after the model deployed before: the killed
        # run's candidate left no trace in the pointer or its history.
        pointer = json.loads(target.read_text())
        candidate = rerun.asset_materializations_for_node(MODEL.path[0])[0].metadata["version"].value
        assert pointer["version"] == candidate != deployed_before["version"]
        assert pointer["previous_version"] == deployed_before["version"] == pointer["history"][0]
