"""The model's pure functions on hand-made ml_feature_table rows."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pandas as pd
import pytest

from meridian_assets import thresholds
from meridian_assets.defs.ml import model as dtm


def ml_rows(day: str, rows: int, seed: int) -> pd.DataFrame:
    """Deliveries whose real duration grows with distance and unload time, which the dispatcher ignores."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.uniform(0, 1, rows) for c in dtm.NUMERIC})
    frame["planned_distance_km"] = rng.gamma(2.0, 6.0, rows)
    frame["avg_unload_min"] = rng.choice([9.0, 16.0, 28.0], rows)
    frame["scheduled_minutes"] = frame["planned_distance_km"] / 35 * 60 + 20
    frame[dtm.LABEL] = frame["planned_distance_km"] / 30 * 60 + frame["avg_unload_min"] + rng.normal(0, 2, rows)
    for column in dtm.CATEGORICAL:
        frame[column] = rng.choice(["a", "b"], rows)
    frame[dtm.VEHICLE] = rng.choice([f"V{v}" for v in range(20)], rows)
    frame["status"] = np.where(np.arange(rows) % 10 == 0, "cancelled", "delivered")
    frame.loc[frame["status"] == "cancelled", dtm.LABEL] = np.nan
    return frame.assign(date=day, delivery_id=[f"{day}-{i}" for i in range(rows)])


HISTORY = pd.concat([ml_rows(f"2026-11-0{d}", 150, d) for d in range(1, 6)], ignore_index=True)


def test_split_trains_before_the_day_without_left_out_days_and_holds_out_the_day():
    train_rows, holdout = dtm.split(HISTORY, "2026-11-05", left_out={"2026-11-02": ["a check failed"]})
    assert sorted(train_rows["date"].unique()) == ["2026-11-01", "2026-11-03", "2026-11-04"]
    assert set(holdout["date"]) == {"2026-11-05"}
    assert train_rows["status"].eq("delivered").all() and train_rows[dtm.LABEL].notna().all()
    assert len(holdout) == 135  # 150 rows, every tenth cancelled
    assert dtm.enough_to_train(train_rows, holdout)
    assert not dtm.enough_to_train(train_rows[train_rows["date"] != "2026-11-04"], holdout)  # two days only


def test_training_needs_200_rows_and_a_holdout():
    """docs/CHECKS.md: with fewer than 200 labelled rows, or nothing to hold out, nothing is trained."""
    train_rows = pd.DataFrame({"date": [f"2026-11-0{1 + i % 3}" for i in range(200)]})
    holdout = pd.DataFrame({"date": ["2026-11-04"]})
    assert dtm.enough_to_train(train_rows, holdout)
    assert not dtm.enough_to_train(train_rows.iloc[:199], holdout)
    assert not dtm.enough_to_train(train_rows, holdout.iloc[:0])


class DispatcherPlusFive:
    """A deployed model whose predictions the test knows: the dispatcher's minutes plus five."""

    def predict(self, inputs: pd.DataFrame) -> np.ndarray:
        return inputs["scheduled_minutes"].to_numpy() + 5.0


def test_errors_are_mean_absolute_and_relative():
    assert dtm.errors([10.0, 20.0], [12.0, 16.0]) == pytest.approx({"mae": 3.0, "mape": (2 / 12 + 4 / 16) / 2})


def test_a_candidate_is_measured_against_the_dispatcher_and_the_deployed_model():
    train_rows, holdout = dtm.split(HISTORY, "2026-11-05")
    candidate = dtm.evaluate_candidate(train_rows, holdout, DispatcherPlusFive())
    metrics, label, scheduled = candidate.metrics, holdout[dtm.LABEL].to_numpy(), holdout["scheduled_minutes"].to_numpy()
    assert metrics["mae"] < 0.5 * metrics["baseline_mae"]  # it learns what the dispatcher ignores
    assert metrics["baseline_mae"] == pytest.approx(np.mean(np.abs(scheduled - label)))
    assert metrics["deployed_mae_on_holdout"] == pytest.approx(np.mean(np.abs(scheduled + 5.0 - label)))
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(candidate.predicted - label)))
    assert metrics["vs_deployed"]["difference"] == pytest.approx(
        np.mean(np.abs(candidate.predicted - label)) - np.mean(np.abs(scheduled + 5.0 - label)))
    assert dtm.evaluate_candidate(train_rows, holdout).metrics["deployed_mae_on_holdout"] is None


def test_the_paired_difference_is_a_t_interval_on_the_same_deliveries():
    """Errors of 1, 2, 3 and 4 minutes against a perfect model: mean 2.5, sd 1.29099; Student's
    t at 0.975 with 3 degrees of freedom is 3.182446 (a table's value)."""
    versus = dtm.paired_difference([1.0, 2.0, 3.0, 4.0], [0.0] * 4, [0.0] * 4, confidence=0.975)
    margin = 3.182446 * 1.2909944 / 2
    assert versus == pytest.approx({"difference": 2.5, "low": 2.5 - margin, "high": 2.5 + margin, "confidence": 0.975},
                                   rel=1e-5)
    # Over-predicting by 2 and under-predicting by 2 miss alike: the difference is paired, signless.
    assert dtm.paired_difference([12.0, 8.0], [8.0, 12.0], [10.0, 10.0])["difference"] == 0


@pytest.mark.parametrize(("mae", "low", "verdict"), [
    (18.9, -0.1, {"beats_baseline": True, "significantly_worse": False, "passed": True}),
    (19.0, -0.1, {"beats_baseline": False, "significantly_worse": False, "passed": False}),  # 0.95 x 20 is not below
    (18.9, 0.01, {"beats_baseline": True, "significantly_worse": True, "passed": False}),
    (18.9, 0.0, {"beats_baseline": True, "significantly_worse": False, "passed": True}),  # zero is within noise
    (18.9, None, {"beats_baseline": True, "significantly_worse": False, "passed": True}),  # nothing deployed yet
])
def test_the_gate_verdict(mae, low, verdict):
    """A dispatcher's MAE of 20 minutes: the candidate must stay below 19 (GATE_BASELINE_RATIO), and
    the interval of its difference to the deployed model must not lie wholly above zero."""
    versus = None if low is None else {"difference": low + 1, "low": low, "high": low + 2}
    assert dtm.gate_verdict({"mae": mae, "baseline_mae": 20.0, "vs_deployed": versus}) == verdict


def test_a_large_training_day_is_sampled_the_same_way_each_run():
    cap = thresholds.MODEL_TRAINING_ROWS_PER_DAY
    small = pd.DataFrame({"delivery_id": range(cap)})
    assert dtm.training_sample(small, "2026-11-02") is small
    large = pd.DataFrame({"delivery_id": range(3 * cap)})
    sample = dtm.training_sample(large, "2026-11-02")
    assert len(sample) == cap and sample["delivery_id"].is_unique
    assert sample.equals(dtm.training_sample(large, "2026-11-02"))
    assert not sample.equals(dtm.training_sample(large, "2026-11-03"))


def holdout_day(seed: int, rows: int = 1100) -> tuple[np.ndarray, np.ndarray]:
    """One holdout day: expected minutes, and actual minutes with skewed, heavy-tailed delays."""
    rng = np.random.default_rng(seed)
    expected = rng.gamma(4.0, 12.0, rows) + 10
    delays = rng.lognormal(1.0, 1.0, rows) + np.where(rng.random(rows) < 0.05, rng.pareto(2.5, rows) * 20, 0)
    return expected, expected + delays


def predictions(expected: np.ndarray, seed: int, spread: float) -> np.ndarray:
    """A model's predictions: the expected minutes plus a constant guess at the delay, with its own errors."""
    return expected + 3.0 + np.random.default_rng(seed).normal(0, spread, len(expected))


def test_the_gate_passes_a_candidate_only_noise_makes_look_worse():
    """Two equally good models: on about half the days one looks worse by chance. The old rule
    ("no worse than deployed") refused those; the paired test refuses about 1 - GATE_CONFIDENCE."""
    refused = looked_worse = covered = 0
    for seed in range(400):
        expected, actual = holdout_day(seed)
        candidate, deployed = predictions(expected, 10_000 + seed, 4.0), predictions(expected, 20_000 + seed, 4.0)
        versus = dtm.paired_difference(candidate, deployed, actual)
        covered += versus["low"] <= 0 <= versus["high"]  # the true difference of twins is zero
        looked_worse += versus["difference"] > 0
        refused += dtm.gate_verdict({"mae": 10.0, "baseline_mae": 20.0, "vs_deployed": versus})["significantly_worse"]
    assert 150 < looked_worse < 250
    assert refused / 400 < 1 - thresholds.GATE_CONFIDENCE + 0.03
    assert covered / 400 > 2 * thresholds.GATE_CONFIDENCE - 1 - 0.04  # each side at GATE_CONFIDENCE


def test_the_gate_refuses_a_real_regression():
    """A candidate whose errors spread 25% wider (about 0.6 min of MAE worse on a day) is refused on
    nearly every day."""
    refused = 0
    for seed in range(100):
        expected, actual = holdout_day(seed)
        candidate, deployed = predictions(expected, 10_000 + seed, 5.0), predictions(expected, 20_000 + seed, 4.0)
        refused += dtm.gate_verdict({"mae": 10.0, "baseline_mae": 20.0,
                                     "vs_deployed": dtm.paired_difference(candidate, deployed, actual)})["passed"] is False
    assert refused >= 95


def test_a_candidate_trained_with_a_feature_shuffled_is_refused():
    train_rows, holdout = dtm.split(HISTORY, "2026-11-05")
    deployed = dtm.train(train_rows)
    shuffled = train_rows.assign(avg_unload_min=np.random.default_rng(0).permutation(train_rows["avg_unload_min"]))
    metrics = dtm.evaluate_candidate(shuffled, holdout, deployed).metrics
    assert metrics["vs_deployed"]["low"] > 0
    assert dtm.gate_verdict(metrics) == {"beats_baseline": False, "significantly_worse": True, "passed": False}
    same = dtm.evaluate_candidate(train_rows, holdout, deployed).metrics["vs_deployed"]
    assert same["difference"] == same["low"] == same["high"] == 0  # the deployed model's twin


def test_the_noise_floor_compares_the_same_stops_and_refuses_a_truth_that_misses_one():
    _, holdout = dtm.split(HISTORY, "2026-11-05")
    truth = pd.DataFrame({"delivery_id": holdout["delivery_id"], "best_minutes": holdout[dtm.LABEL] + 1.0})
    result = dtm.against_the_noise_floor(holdout, holdout[dtm.LABEL] + 2.0, truth)
    assert result["deliveries"] == len(holdout)
    assert result["oracle_mae"] == pytest.approx(1.0) and result["model_mae"] == pytest.approx(2.0)
    assert result["model_vs_oracle"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="no answer for 1 of"):
        dtm.against_the_noise_floor(holdout, holdout[dtm.LABEL], truth.iloc[1:])


def test_the_error_analysis_says_where_the_error_sits():
    holdout = pd.DataFrame({
        dtm.LABEL: [10.0, 20.0, 30.0, 40.0], dtm.BASELINE: [14.0, 20.0, 20.0, 40.0],
        "planned_distance_km": [2.0, 4.9, 12.0, 31.0], "departure_hour": [7.0, 7.0, 16.0, 16.0],
        "region": ["north", "north", "harbor", "north"], "dock_type": ["dock", "dock", "ground", "dock"],
        "requires_appointment": [True, False, False, None],
    })
    table = dtm.error_analysis(holdout, [12.0, 17.0, 30.0, 50.0])
    assert table.splitlines()[2:] == [
        "| distance band (km) | 0-5 | 2 | 2.50 | 2.00 | -0.50 |",
        "| distance band (km) | 10-20 | 1 | 0.00 | 10.00 | +0.00 |",
        "| distance band (km) | 30+ | 1 | 10.00 | 0.00 | +10.00 |",
        "| departure hour | 7 | 2 | 2.50 | 2.00 | -0.50 |",
        "| departure hour | 16 | 2 | 5.00 | 5.00 | +5.00 |",
        "| region | harbor | 1 | 0.00 | 10.00 | +0.00 |",
        "| region | north | 3 | 5.00 | 1.33 | +3.00 |",
        "| customer type | dock | 2 | 6.50 | 0.00 | +3.50 |",
        "| customer type | dock, appointment | 1 | 2.00 | 4.00 | +2.00 |",
        "| customer type | ground | 1 | 0.00 | 10.00 | +0.00 |",
    ]


def test_the_paired_difference_of_one_or_two_deliveries():
    """One delivery has no spread to measure: its interval is the difference itself; two have."""
    one = dtm.paired_difference([12.0], [10.0], [11.0])
    assert one == {"difference": 0.0, "low": 0.0, "high": 0.0, "confidence": 0.95}
    two = dtm.paired_difference([12.0, 10.0], [10.0, 10.0], [10.0, 10.0])  # differences 2 and 0
    # mean 1, standard deviation sqrt(2), t(0.95, 1 degree) = 6.3138: margin 6.3138 x sqrt(2) / sqrt(2)
    assert two["difference"] == 1.0 and two["low"] == pytest.approx(1.0 - 6.3138, abs=1e-4)
    assert two["high"] == pytest.approx(1.0 + 6.3138, abs=1e-4)


def test_the_evaluation_plot_is_a_png_in_markdown_metadata():
    """Dagster 1.13 has no image metadata type: the plot travels as a PNG data URI in Markdown."""
    holdout = pd.DataFrame({dtm.LABEL: [10.0, 20.0, 30.0, 40.0], dtm.BASELINE: [14.0, 20.0, 20.0, 40.0],
                            "departure_hour": [7.0, 7.0, 16.0, 16.0]})
    png = dtm.evaluation_png(holdout, np.array([12.0, 17.0, 30.0, 50.0]))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (720, 288)  # IHDR: 9 x 3.6 inches at 80 dpi
    assert dtm.png_markdown(b"\x89PNG\r\n\x1a\n", "plot") == "![plot](data:image/png;base64,iVBORw0KGgo=)"
    markdown = dtm.png_markdown(png, "evaluation")
    prefix = "![evaluation](data:image/png;base64,"
    assert markdown.startswith(prefix) and markdown.endswith(")")
    assert base64.b64decode(markdown[len(prefix):-1]) == png
