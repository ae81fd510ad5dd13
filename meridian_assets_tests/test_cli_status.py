"""`meridian status --require-deployed`, the exit code `make run` and a deploy pipeline rely on:
1 unless a deployed model beats the dispatcher by the gate's 5% (README, "make run" step 3)."""

from __future__ import annotations

import pytest

from meridian_assets import cli
from meridian_assets.defs.ml import store
from meridian_assets.lake import Lake

DAY = "2026-11-05"


@pytest.fixture
def lake(tmp_path, monkeypatch) -> Lake:
    """An empty instance and a lake, as the CLI finds them through the environment."""
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MERIDIAN_LAKE", str(tmp_path / "lake"))
    return Lake(root=str(tmp_path / "lake"))


def deploy(lake: Lake, mae: float, baseline_mae: float) -> None:
    info = {"trained_on": {"first": "2026-11-01", "last": "2026-11-04"}, "holdout": DAY,
            "metrics": {"mae": mae, "baseline_mae": baseline_mae}}
    store.save_version(lake, f"m{mae}", None, info)
    store.promote(lake, f"m{mae}")


def status(*flags: str) -> int:
    return cli.main(["status", DAY, DAY, *flags])


def test_no_deployed_model_exits_1_when_one_is_required(lake, capsys):
    assert status("--require-deployed") == 1
    assert "deployed model: none" in capsys.readouterr().out
    assert status() == 0, "without the flag the summary is information"


@pytest.mark.parametrize(("mae", "code"), [(19.0, 1), (18.9, 0)])
def test_the_deployed_model_must_beat_the_dispatcher_by_five_percent(lake, capsys, mae, code):
    deploy(lake, mae, baseline_mae=20.0)  # the gate's limit: below 19 minutes
    assert status("--require-deployed") == code
    assert f"MAE {mae:.2f} min vs dispatcher 20.00 min" in capsys.readouterr().out
