"""The drift rule on hand-made ml_feature_table days: quiet on small or short samples and on
noise, loud on a real shift, whatever the fleet size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import dagster as dg
from meridian_assets.lake import Lake
from meridian_assets.defs.ml_table.checks import _drift, _drift_verdict
from meridian_assets.lake import write_partition
from meridian_assets.quality import Partition, category_psi, psi
from spark_jobs.layout import days_between

DAYS = days_between("2026-11-01", "2026-11-08")
REGIONS = ["north", "south", "east", "west", "central"]


def ml_day(rows: int, seed: int, distance_scale: float = 1.0, regions=REGIONS) -> pd.DataFrame:
    """Deliveries shaped like the vendor's: gamma distances, routes of 4-8 stops, morning departures."""
    rng = np.random.default_rng(seed)
    distance = np.minimum(1 + rng.gamma(2.0, 6.0, rows), 45.0) * distance_scale
    return pd.DataFrame({
        "vehicle_id": [f"V{i % 60:05d}" for i in range(rows)],  # a small fleet: no per-vehicle drift
        "region": rng.choice(regions, rows),
        "scheduled_minutes": np.round(distance / 35 * 60 + 20),
        "planned_distance_km": distance,
        "stop_sequence": rng.integers(1, 9, rows).astype(float),
        "departure_hour": rng.integers(6, 16, rows).astype(float),
        "avg_unload_min": rng.choice([9.0, 16.0, 28.0], rows),
    })


def judge(tmp_path, today: pd.DataFrame, earlier_days: int, rows: int):
    for offset, day in enumerate(DAYS[-1 - earlier_days:-1]):
        write_partition(tmp_path, "ml_feature_table", day, pa.Table.from_pandas(ml_day(rows, offset)))
    write_partition(tmp_path, "ml_feature_table", DAYS[-1], pa.Table.from_pandas(today))
    return _drift(Partition(Lake(root=str(tmp_path)), "ml_feature_table", DAYS[-1]))


@pytest.mark.parametrize(("rows", "earlier_days"), [(120, 7), (5000, 2)])
def test_too_little_data_is_not_judged(tmp_path, rows, earlier_days):
    outcome = judge(tmp_path, ml_day(rows, 99, distance_scale=1.5), earlier_days, rows)
    assert outcome.passed and outcome.value == "not judged"
    assert "too little data" in outcome.description


@pytest.mark.parametrize("rows", [360, 1200, 6000])
def test_good_days_pass_at_every_fleet_size(tmp_path, rows):
    outcomes = [judge(tmp_path / str(seed), ml_day(rows, seed), 7, rows) for seed in range(100, 110)]
    assert all(o.passed for o in outcomes), [o.description for o in outcomes if not o.passed]


@pytest.mark.parametrize("rows", [360, 6000])
@pytest.mark.parametrize(("shift", "feature"), [
    (dict(distance_scale=1.5), "planned_distance_km"),
    (dict(regions=REGIONS[1:]), "region"),
])
def test_a_real_shift_fails_with_error(tmp_path, rows, shift, feature):
    outcome = judge(tmp_path, ml_day(rows, 99, **shift), 7, rows)
    assert not outcome.passed
    assert outcome.severity == dg.AssetCheckSeverity.ERROR
    assert feature in outcome.description.split("above the ERROR limit:")[1]


def test_psi_is_zero_for_one_distribution_and_grows_with_a_shift():
    values = np.random.default_rng(1).gamma(2.0, 6.0, 5000)
    same = psi(values, values)
    assert same.psi == pytest.approx(0.0) and same.bins == 10
    assert (same.current_rows, same.reference_rows) == (5000, 5000)
    assert 0.05 < psi(values, values * 1.2).psi < 0.25 < psi(values, values * 1.5).psi
    assert psi(values, np.array([np.nan])).psi == 0.0  # nothing to compare: no drift claimed


def test_category_psi_sees_a_missing_category_and_noise_limits_shrink_with_size():
    reference = pd.Series(["a", "b", "c", "d"] * 100)
    assert category_psi(reference, reference).psi == pytest.approx(0.0)
    missing = category_psi(reference, pd.Series(["a", "b", "c"] * 100))
    assert missing.psi > 1.0 and missing.bins == 4
    small, large = psi(np.arange(100.0), np.arange(100.0)), psi(np.arange(10_000.0), np.arange(10_000.0))
    assert small.noise_limit(1e-4) > large.noise_limit(1e-4) * 50


NOT_JUDGED = "WARN 0.1, ERROR 0.25, or sampling noise if higher"


@pytest.mark.parametrize(("rows", "earlier_days", "judged"), [(200, 3, True), (199, 7, False), (200, 0, False)])
def test_drift_is_judged_from_200_rows_and_3_earlier_days(tmp_path, rows, earlier_days, judged):
    outcome = judge(tmp_path, ml_day(rows, 99), earlier_days, rows)
    if judged:
        assert outcome.value != "not judged", outcome.description
    else:
        assert (outcome.passed, outcome.value, outcome.threshold, outcome.description) == (
            True, "not judged", NOT_JUDGED, f"too little data to judge drift: {rows} rows (need 200) against "
            f"{earlier_days} earlier days (need 3)")


def test_the_result_names_the_feature_furthest_past_its_own_limit(tmp_path):
    outcome = judge(tmp_path, ml_day(360, 99, distance_scale=1.5), 7, 360)
    drift_features = {"scheduled_minutes", "planned_distance_km", "stop_sequence", "departure_hour",
                      "avg_unload_min", "region"}
    psis, limits = outcome.extra["psi"], outcome.extra["warn_limit"]
    assert set(psis) == set(limits) == drift_features
    worst = max(psis, key=lambda c: psis[c] / limits[c])
    assert (outcome.value, outcome.threshold) == (psis[worst], limits[worst])
    assert all(value == round(value, 4) for value in [*psis.values(), *limits.values()])
    assert outcome.description.startswith(f"largest PSI {worst} = {psis[worst]:.3f}, WARN limit {limits[worst]:.3f} "
                                          "for 360 rows against 2520 from 7 earlier days; above the ERROR limit: ")


def test_the_feature_furthest_past_its_own_limit_speaks_not_the_largest_psi():
    """Sampling noise raised the region's limits: its PSI is the largest (0.5) but only 2.5 times
    its WARN limit of 0.2, while the distances' 0.3 is 3 times theirs of 0.1."""
    psis = {"planned_distance_km": 0.3, "region": 0.5}
    warn = {"planned_distance_km": 0.1, "region": 0.2}
    error = {"planned_distance_km": 0.25, "region": 0.6}
    assert _drift_verdict(psis, warn, error) == ("planned_distance_km", False, ["planned_distance_km"])


@pytest.mark.parametrize(("psi", "verdict"), [
    (0.1, ("planned_distance_km", True, [])),  # exactly the WARN limit: passes
    (0.25, ("planned_distance_km", False, [])),  # exactly the ERROR limit: a WARN, which blocks nothing
])
def test_a_psi_exactly_at_its_limit_is_within_it(psi, verdict):
    assert _drift_verdict({"planned_distance_km": psi, "region": 0.0},
                          {"planned_distance_km": 0.1, "region": 0.1},
                          {"planned_distance_km": 0.25, "region": 0.25}) == verdict


def test_a_mild_shift_warns_without_blocking(tmp_path):
    outcome = judge(tmp_path, ml_day(6000, 99, distance_scale=1.3), 7, 6000)
    assert (outcome.passed, outcome.severity) == (False, dg.AssetCheckSeverity.WARN), outcome.description
    assert outcome.description.endswith("WARN limit 0.100 for 6000 rows against 42000 from 7 earlier days")


def test_every_feature_past_its_error_limit_is_named(tmp_path):
    """Distances 1.5 times longer move the dispatcher's minutes too; a region is missing."""
    outcome = judge(tmp_path, ml_day(360, 99, distance_scale=1.5, regions=REGIONS[1:]), 7, 360)
    assert outcome.description.endswith("; above the ERROR limit: scheduled_minutes, planned_distance_km, region")


@pytest.mark.parametrize(("vehicles", "joined"), [(500, True), (499, False)])
def test_per_vehicle_features_join_from_500_vehicles(tmp_path, vehicles, joined):
    def fleet(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return frame.assign(vehicle_id=[f"V{i % vehicles:05d}" for i in range(len(frame))],
                            **{c: rng.uniform(0, 1, len(frame)) for c in [
                                "veh_prev_ping_count", "veh_prev_idle_fraction", "veh_prev_longest_gap_min",
                                "veh_prev_active_hours_fraction"]})

    for offset, day in enumerate(DAYS[:-1]):
        write_partition(tmp_path, "ml_feature_table", day, pa.Table.from_pandas(fleet(ml_day(1000, offset), offset)))
    write_partition(tmp_path, "ml_feature_table", DAYS[-1], pa.Table.from_pandas(fleet(ml_day(1000, 99), 99)))
    outcome = _drift(Partition(Lake(root=str(tmp_path)), "ml_feature_table", DAYS[-1]))
    assert ("veh_prev_idle_fraction" in outcome.extra["psi"]) is joined
