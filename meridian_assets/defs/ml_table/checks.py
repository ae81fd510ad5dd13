"""Checks on ml_feature_table beyond dbt's tests: nulls, volume, labels, drift."""

import pandas as pd

import dagster as dg
from meridian_assets import profiles
from meridian_assets import thresholds as t
from meridian_assets.contracts import SOURCES
from meridian_assets.quality import INPUTS_FIT, Outcome, Partition, Rule, build_checks, category_psi, psi
from spark_jobs.layout import PREVIOUS_7_DAYS

SAME_DAY_FEATURES = [
    "planned_distance_km", "stop_sequence", "route_stops", "departure_hour", "weekday", "temp_c", "precip_mm",
    "wind_kph", "visibility_km", "weather_condition", "congestion_index", "incident_count",
]
HISTORY_FEATURES = [
    "route_mean_delay_7d", "veh_pace_28d", "veh_prev_ping_count", "veh_prev_mean_speed_kph", "veh_prev_stop_count",
    "veh_prev_distance_km", "dock_type", "avg_unload_min", "cust_on_time_rate_28d", "cust_mean_delay_28d",
]
# Features whose distribution is the business mix and should hold still from week to week.
# Left out on purpose (measured on good demo data, docs/CHECKS.md): weather and traffic, which
# really change daily; weekday and growing history counts, which move by construction.
DRIFT_FEATURES = ["scheduled_minutes", "planned_distance_km", "stop_sequence", "departure_hour", "avg_unload_min"]
DRIFT_CATEGORIES = ["region"]  # a region missing from the drop changes the mix
# Per-vehicle features vary per vehicle and day, so their PSI is sampling noise (about
# (bins - 1) / vehicles) until the fleet is large: they join the drift set from
# DRIFT_MIN_VEHICLES on. Speeds and distances stay out (0.27 on good data at 200 vehicles).
VEHICLE_DRIFT_FEATURES = [
    "veh_prev_ping_count", "veh_prev_idle_fraction", "veh_prev_longest_gap_min", "veh_prev_active_hours_fraction",
]


def _null_rule(name: str, columns: list[str], limit: float, blocking: bool, why: str) -> Rule:
    """Null rates; a non-blocking rule covers history features, which the first day cannot have."""

    def evaluate(p: Partition) -> Outcome:
        if not blocking and p.starts_history():
            return p.no_history_yet(limit)
        rates = p.frame[columns].isna().mean()
        worst = rates.idxmax()
        return Outcome(bool((rates <= limit).all()), round(float(rates.max()), 4), limit,
                       f"worst feature {worst}: {rates.max():.1%} null",
                       extra={"null_rates": {k: round(float(v), 4) for k, v in rates.items()}})

    return Rule(name, f"Each of {', '.join(columns)} is null in at most {limit:.0%} of rows: {why}",
                evaluate, blocking=blocking)


def _row_count(p: Partition) -> Outcome:
    deliveries = profiles.read(p.lake, SOURCES["deliveries"], p.day)["rows"]
    rows = len(p.frame)
    return Outcome(rows == deliveries and rows > 0, rows, deliveries, f"{rows} rows for {deliveries} deliveries")


def _regions_known(p: Partition) -> Outcome:
    """A region no weather or traffic drop reports: its deliveries get none of those features.
    A few of them pass same_day_null_rates unseen; a new region may be real, so a person looks."""
    reported = p.frame.groupby("region")[["temp_c", "congestion_index"]].count()
    unknown = reported[(reported == 0).any(axis=1)].index.tolist()
    rows = int(p.frame["region"].isin(unknown).sum())
    return Outcome(not unknown, len(unknown), 0,
                   f"{rows} deliveries in regions without weather or traffic: {', '.join(map(str, unknown))}"
                   if unknown else f"{len(reported)} regions, each with weather and traffic")


def _label_range(p: Partition) -> Outcome:
    delivered = p.frame[p.frame["status"].eq("delivered")]
    bad = int((~delivered["delivery_minutes"].between(t.DELIVERY_MINUTES_MIN, t.DELIVERY_MINUTES_MAX)).sum()
              + (p.frame["scheduled_minutes"] <= 0).sum())
    return Outcome(bad == 0 and len(delivered) > 0, bad,
                   f"labels in {t.DELIVERY_MINUTES_MIN:.0f}..{t.DELIVERY_MINUTES_MAX:.0f} min",
                   f"{bad} labels or estimates out of range among {len(delivered)} delivered rows")


def _drift_verdict(psis: dict[str, float], warn: dict[str, float],
                   error: dict[str, float]) -> tuple[str, bool, list[str]]:
    """The feature that speaks for the day, whether the day passes, and the features that fail it
    with ERROR. Sampling noise raises each feature's limits differently, so the feature furthest
    past its own WARN limit speaks, not the largest PSI; a PSI at its limit is within it."""
    worst = max(psis, key=lambda c: psis[c] / warn[c])
    passed = all(psis[c] <= warn[c] for c in psis)
    errors = [c for c in psis if psis[c] > error[c]]
    return worst, passed, errors


def _drift(p: Partition) -> Outcome:
    columns = DRIFT_FEATURES + (
        VEHICLE_DRIFT_FEATURES if p.frame["vehicle_id"].nunique() >= t.DRIFT_MIN_VEHICLES else []
    )
    history = p.history(PREVIOUS_7_DAYS, columns + DRIFT_CATEGORIES)
    reference = pd.concat(history.values()) if history else p.frame.head(0)
    limits = f"WARN {t.PSI_WARN}, ERROR {t.PSI_ERROR}, or sampling noise if higher"
    if len(p.frame) < t.DRIFT_MIN_ROWS or len(history) < t.DRIFT_MIN_REFERENCE_DAYS:
        return Outcome(True, "not judged", limits,
                       f"too little data to judge drift: {len(p.frame)} rows (need {t.DRIFT_MIN_ROWS}) against "
                       f"{len(history)} earlier days (need {t.DRIFT_MIN_REFERENCE_DAYS})")
    drifts = {c: psi(reference[c].to_numpy(float), p.frame[c].to_numpy(float)) for c in columns}
    drifts |= {c: category_psi(reference[c], p.frame[c]) for c in DRIFT_CATEGORIES}
    warn = {c: max(t.PSI_WARN, d.noise_limit(t.DRIFT_WARN_FALSE_ALARM)) for c, d in drifts.items()}
    error = {c: max(t.PSI_ERROR, d.noise_limit(t.DRIFT_ERROR_FALSE_ALARM)) for c, d in drifts.items()}
    worst, passed, errs = _drift_verdict({c: d.psi for c, d in drifts.items()}, warn, error)
    return Outcome(
        passed, round(drifts[worst].psi, 4), round(warn[worst], 4),
        f"largest PSI {worst} = {drifts[worst].psi:.3f}, WARN limit {warn[worst]:.3f} for {len(p.frame)} rows "
        f"against {len(reference)} from {len(history)} earlier days"
        + (f"; above the ERROR limit: {', '.join(errs)}" if errs else ""),
        dg.AssetCheckSeverity.ERROR if errs else dg.AssetCheckSeverity.WARN,
        extra={"psi": {c: round(d.psi, 4) for c, d in drifts.items()},
               "warn_limit": {c: round(v, 4) for c, v in warn.items()}},
    )


ML_RULES = [
    INPUTS_FIT,
    Rule("row_count", "One row per delivery of the day in raw_deliveries.", _row_count),
    _null_rule("same_day_null_rates", SAME_DAY_FEATURES, t.SAME_DAY_NULL_RATE_MAX, True,
               "the day's own route, weather and traffic features must be there."),
    _null_rule("history_null_rates", HISTORY_FEATURES, t.HISTORY_NULL_RATE_MAX, False,
               "history may be short early on, so a person looks (WARN)."),
    Rule("label_range", "Delivered rows have a plausible label and every row a positive dispatcher estimate.",
         _label_range),
    Rule("regions_known", "Every delivery's region has the day's weather and traffic (WARN: a new region may be "
         "real, but its deliveries are predicted without either).", _regions_known, blocking=False),
    Rule("feature_drift", f"Population stability index of each business-mix feature against the 7 days before: "
         f"WARN above {t.PSI_WARN}, ERROR (blocks training) above {t.PSI_ERROR}, each raised to the level sampling "
         f"noise reaches at the day's size; judged from {t.DRIFT_MIN_ROWS} rows and "
         f"{t.DRIFT_MIN_REFERENCE_DAYS} earlier days on.", _drift),
]

ml_table_checks = [build_checks("ml_feature_table", "ml_feature_table", ML_RULES)]
