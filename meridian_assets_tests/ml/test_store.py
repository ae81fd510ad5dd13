"""The model store: versions are immutable, deployed.json moves atomically and rolls back."""

import json

import pytest

from meridian_assets.lake import Lake
from meridian_assets.defs.ml import store


def _version(lake, name: str, mae: float) -> None:
    info = {"trained_on": {"first": "2026-11-01", "last": "2026-11-03"}, "holdout": "2026-11-04",
            "metrics": {"mae": mae, "baseline_mae": 10.0}}
    store.save_version(lake, name, {"model": name}, info)


def test_promote_keeps_the_chain_and_rollback_walks_it(tmp_path):
    lake = Lake(root=str(tmp_path))
    for name, mae in (("v1", 9.0), ("v2", 8.0), ("v3", 7.0)):
        _version(lake, name, mae)
        store.promote(lake, name)
    pointer = store.deployed(lake)
    assert (pointer["version"], pointer["previous_version"], pointer["history"]) == ("v3", "v2", ["v2", "v1"])
    assert pointer["metrics"]["mae"] == 7.0

    back = store.rollback(lake)
    assert (back["version"], back["rolled_back_from"], back["history"]) == ("v2", "v3", ["v1"])
    assert store.load_model(lake, "v2") == {"model": "v2"}
    assert store.rollback(lake)["version"] == "v1"
    with pytest.raises(RuntimeError, match="nothing to roll back"):
        store.rollback(lake)
    # The pointer is always whole JSON, and no temporary files are left beside it.
    json.loads((tmp_path / "models" / "deployed.json").read_text())
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["deployed.json", "v1", "v2", "v3"]


def test_a_version_is_never_overwritten(tmp_path):
    lake = Lake(root=str(tmp_path))
    _version(lake, "v1", 9.0)
    with pytest.raises(OSError):
        _version(lake, "v1", 1.0)
    assert store.load_info(lake, "v1")["metrics"]["mae"] == 9.0
