"""deployed_model's decision (`deploy_decision`), on the gate's judgements and model.json files
written out by hand: only a candidate the gate judged as the day's newest, passed, and that no
model deployed since overtakes is deployed; otherwise the model in production stays, saying why."""

from __future__ import annotations

import pytest

import dagster as dg
from meridian_assets.defs.ml.assets import deploy_decision, overtaken
from meridian_assets.guard import FAILED, PASSED, WARNED, Judgement

CANDIDATE = "2026-11-09-bbbbbbbb"
DEPLOYED = {"version": "2026-11-08-aaaaaaaa", "holdout": "2026-11-08"}
# The candidate's model.json: gated against the deployed model on its holdout day, 2026-11-09.
METRICS = {"mae": 11.5, "baseline_mae": 20.0, "deployed_mae_on_holdout": 12.0,
           "vs_deployed": {"difference": -0.5, "low": -0.9, "high": -0.1, "confidence": 0.95}}
INFO = {"holdout": "2026-11-09", "compared_with": DEPLOYED["version"], "metrics": METRICS}
REASON = ("MAE 11.50 min vs limit 19.00 (0.95 x dispatcher 20.00); vs deployed model (12.00) -0.50 min, "
          "-0.90..-0.10 at 95% each side")


def judged(verdict: str, current: bool = True, version: str = CANDIDATE) -> Judgement:
    """The gate's newest result on the day: its verdict, whether it judged the day's newest candidate."""
    evaluation = dg.AssetCheckEvaluation(asset_key=dg.AssetKey("delivery_time_model"), check_name="evaluation_gate",
                                         passed=verdict == PASSED, metadata={"version": version})
    return Judgement(verdict, current, evaluation)


def test_a_candidate_the_gate_passed_is_deployed():
    assert deploy_decision(judged(PASSED), CANDIDATE, INFO, DEPLOYED) == {
        "outcome": "deployed", "decision": f"Deployed {CANDIDATE}: {REASON}"}


def test_the_first_model_is_deployed_when_its_gate_passes():
    first = {"holdout": "2026-11-09", "compared_with": None,
             "metrics": {"mae": 11.5, "baseline_mae": 20.0, "deployed_mae_on_holdout": None, "vs_deployed": None}}
    assert deploy_decision(judged(PASSED), CANDIDATE, first, None) == {
        "outcome": "deployed",
        "decision": f"Deployed {CANDIDATE}: MAE 11.50 min vs limit 19.00 (0.95 x dispatcher 20.00); nothing deployed yet"}


@pytest.mark.parametrize(("judgement", "judged_text"), [
    (None, "nothing"),  # the gate has not run for the day
    (judged(PASSED, current=False, version="2026-11-09-cccccccc"), "2026-11-09-cccccccc"),  # an earlier candidate
])
def test_a_candidate_the_gate_has_not_judged_is_held(judgement, judged_text):
    assert deploy_decision(judgement, CANDIDATE, INFO, DEPLOYED) == {
        "outcome": "kept", "held_candidate": CANDIDATE,
        "decision": f"Candidate {CANDIDATE} is not deployed: the evaluation gate has not judged it (its newest "
                    f"result judged {judged_text}); {DEPLOYED['version']} stays"}
    assert deploy_decision(judgement, CANDIDATE, INFO, None)["decision"].endswith("; none stays")


@pytest.mark.parametrize("verdict", [WARNED, FAILED])
def test_a_candidate_the_gate_refused_is_held_with_the_gates_numbers(verdict):
    worse = {**INFO, "metrics": {**METRICS, "mae": 12.6, "vs_deployed": {
        "difference": 0.6, "low": 0.2, "high": 1.0, "confidence": 0.95}}}
    assert deploy_decision(judged(verdict), CANDIDATE, worse, DEPLOYED) == {
        "outcome": "kept", "held_candidate": CANDIDATE,
        "decision": f"Candidate {CANDIDATE} held by the evaluation gate, {DEPLOYED['version']} stays: MAE 12.60 min "
                    "vs limit 19.00 (0.95 x dispatcher 20.00); vs deployed model (12.00) +0.60 min, +0.20..+1.00 at "
                    "95% each side: significantly worse"}


@pytest.mark.parametrize(("info", "why"), [
    ({**INFO, "holdout": "2026-11-07"},
     f"it is trained on older data (holdout 2026-11-07) than the deployed {DEPLOYED['version']} (holdout 2026-11-08)"),
    ({**INFO, "compared_with": "2026-11-07-dddddddd"},
     f"its gate compared it with 2026-11-07-dddddddd, but {DEPLOYED['version']} is deployed now (the next run "
     "compares with it)"),
    ({**INFO, "compared_with": None},
     f"its gate compared it with nothing deployed, but {DEPLOYED['version']} is deployed now (the next run "
     "compares with it)"),
])
def test_a_passed_candidate_a_newer_or_other_deployment_overtook_is_held(info, why):
    assert overtaken(info, DEPLOYED) == why
    assert deploy_decision(judged(PASSED), CANDIDATE, info, DEPLOYED) == {
        "outcome": "kept", "held_candidate": CANDIDATE,
        "decision": f"Candidate {CANDIDATE} passed its gate but is not deployed: {why}; {DEPLOYED['version']} stays"}


def test_a_candidate_of_the_deployed_models_day_compared_with_it_is_not_overtaken():
    """Two candidates of one day: the second, gated against the first, may replace it."""
    same_day = {**INFO, "holdout": DEPLOYED["holdout"]}
    assert overtaken(same_day, DEPLOYED) is None
    assert overtaken(INFO, None) is None
    assert deploy_decision(judged(PASSED), CANDIDATE, same_day, DEPLOYED)["outcome"] == "deployed"
