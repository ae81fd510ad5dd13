"""The model store: versions under {lake}/models/{version}/ and the deployed.json pointer.

Written through the lake's working copy: a version is published once, the pointer in one
write, so on S3 too a reader sees a whole version and the old pointer or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import joblib

from meridian_assets.lake import Lake

MODELS = "models"
DEPLOYED = "deployed.json"
POINTER = f"{MODELS}/{DEPLOYED}"


def models_dir(lake: Lake) -> Path:
    return lake.path / MODELS


def save_version(lake: Lake, version: str, model, info: dict) -> Path:
    """A new folder per version, written aside then renamed in: versions are never edited."""
    root = models_dir(lake)
    root.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    joblib.dump(model, staged / "model.joblib")
    (staged / "model.json").write_text(json.dumps({"version": version, **info}, indent=2, default=str))
    target = lake.read_folder(f"{MODELS}/{version}")  # on S3, one another machine published
    os.rename(staged, target)
    lake.publish_folder(f"{MODELS}/{version}")
    return target


def load_info(lake: Lake, version: str) -> dict:
    return json.loads((lake.read_folder(f"{MODELS}/{version}") / "model.json").read_text())


def load_model(lake: Lake, version: str):
    return joblib.load(lake.read_folder(f"{MODELS}/{version}") / "model.joblib")


def deployed(lake: Lake) -> dict | None:
    path = lake.read_file(POINTER)
    return json.loads(path.read_text()) if path.exists() else None


def _write_pointer(lake: Lake, pointer: dict) -> None:
    """Write beside, fsync, then os.replace: readers see the old pointer or the new, never half."""
    root = models_dir(lake)
    fd, tmp = tempfile.mkstemp(prefix=".deployed-", dir=root)
    with os.fdopen(fd, "w") as handle:
        json.dump(pointer, handle, indent=2, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / DEPLOYED)
    lake.publish_file(POINTER)


def _point_at(lake: Lake, version: str, history: list[str], **extra) -> dict:
    info = load_info(lake, version)
    pointer = {
        "version": version,
        "trained_on": info["trained_on"],
        "left_out": info.get("left_out", {}),
        "holdout": info["holdout"],
        "metrics": info["metrics"],
        "inputs": info.get("inputs", {}),  # data version per day; empty for models trained before provenance
        "code_version": info.get("code_version"),
        "previous_version": history[0] if history else None,
        "history": history,
        "deployed_at": datetime.now(timezone.utc).isoformat(),
        **extra,
    }
    _write_pointer(lake, pointer)
    return pointer


def promote(lake: Lake, version: str) -> dict:
    """Point deployed.json at `version`, remembering the chain of earlier ones for rollback."""
    current = deployed(lake)
    history = [current["version"], *current.get("history", [])] if current else []
    return _point_at(lake, version, history)


def rollback_target(lake: Lake) -> str:
    """The version a rollback restores: the one deployed before the current one."""
    current = deployed(lake)
    if not current or not current.get("history"):
        raise RuntimeError(f"nothing to roll back to in {models_dir(lake) / DEPLOYED}")
    return current["history"][0]


def rollback(lake: Lake) -> dict:
    """Restore the previously deployed version; older versions stay available further back."""
    previous, current = rollback_target(lake), deployed(lake)
    return _point_at(lake, previous, current["history"][1:], rolled_back_from=current["version"])
