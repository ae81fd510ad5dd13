"""The model store: versions under {lake}/models/{version}/ and the deployed.json pointer."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import joblib

DEPLOYED = "deployed.json"


def models_dir(lake: Path) -> Path:
    return Path(lake) / "models"


def save_version(lake: Path, version: str, model, info: dict) -> Path:
    """A new folder per version, written aside then renamed in: versions are never edited."""
    root = models_dir(lake)
    root.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=root))
    joblib.dump(model, staged / "model.joblib")
    (staged / "model.json").write_text(json.dumps({"version": version, **info}, indent=2, default=str))
    target = root / version
    os.rename(staged, target)
    return target


def load_info(lake: Path, version: str) -> dict:
    return json.loads((models_dir(lake) / version / "model.json").read_text())


def load_model(lake: Path, version: str):
    return joblib.load(models_dir(lake) / version / "model.joblib")


def deployed(lake: Path) -> dict | None:
    path = models_dir(lake) / DEPLOYED
    return json.loads(path.read_text()) if path.exists() else None


def _write_pointer(lake: Path, pointer: dict) -> None:
    """Write beside, fsync, then os.replace: readers see the old pointer or the new, never half."""
    root = models_dir(lake)
    fd, tmp = tempfile.mkstemp(prefix=".deployed-", dir=root)
    with os.fdopen(fd, "w") as handle:
        json.dump(pointer, handle, indent=2, default=str)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / DEPLOYED)


def _point_at(lake: Path, version: str, history: list[str], **extra) -> dict:
    info = load_info(lake, version)
    pointer = {
        "version": version,
        "trained_on": info["trained_on"],
        "left_out": info.get("left_out", {}),
        "holdout": info["holdout"],
        "metrics": info["metrics"],
        "previous_version": history[0] if history else None,
        "history": history,
        "deployed_at": datetime.now(timezone.utc).isoformat(),
        **extra,
    }
    _write_pointer(lake, pointer)
    return pointer


def promote(lake: Path, version: str) -> dict:
    """Point deployed.json at `version`, remembering the chain of earlier ones for rollback."""
    current = deployed(lake)
    history = [current["version"], *current.get("history", [])] if current else []
    return _point_at(lake, version, history)


def rollback_target(lake: Path) -> str:
    """The version a rollback restores: the one deployed before the current one."""
    current = deployed(lake)
    if not current or not current.get("history"):
        raise RuntimeError(f"nothing to roll back to in {models_dir(lake) / DEPLOYED}")
    return current["history"][0]


def rollback(lake: Path) -> dict:
    """Restore the previously deployed version; older versions stay available further back."""
    previous, current = rollback_target(lake), deployed(lake)
    return _point_at(lake, previous, current["history"][1:], rolled_back_from=current["version"])
