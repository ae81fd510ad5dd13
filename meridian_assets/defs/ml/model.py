"""Training and evaluating the delivery-time model: pure functions over DataFrames."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from meridian_assets import thresholds

LABEL = "delivery_minutes"
BASELINE = "scheduled_minutes"
VEHICLE = "vehicle_id"  # the structure learns each vehicle's pace from its deliveries in the window
CATEGORICAL = ["region", "dock_type", "weather_condition"]
NUMERIC = [
    "scheduled_minutes", "planned_distance_km", "stop_sequence", "route_stops", "departure_hour",
    "weekday", "route_mean_delay_7d", "route_deliveries_7d", "veh_pace_28d", "veh_deliveries_28d",
    "region_hour_mean_delay_28d",
    "veh_prev_ping_count", "veh_prev_mean_speed_kph", "veh_prev_p95_speed_kph",
    "veh_prev_moving_fraction", "veh_prev_idle_fraction", "veh_prev_stop_count",
    "veh_prev_distance_km", "veh_prev_longest_gap_min", "veh_prev_active_hours_fraction",
    "temp_c", "precip_mm", "wind_kph", "visibility_km", "precip_prev_3h_mm",
    "congestion_index", "incident_count", "congestion_prev_1h",
    "requires_appointment", "avg_unload_min", "cust_on_time_rate_28d", "cust_deliveries_28d", "cust_mean_delay_28d",
]
FEATURES = NUMERIC + CATEGORICAL + [VEHICLE]


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Delivered rows with a label: cancelled and failed stops have no delivery time."""
    return frame[frame["status"].eq("delivered") & frame[LABEL].notna()]


def _inputs(frame: pd.DataFrame) -> pd.DataFrame:
    data = frame[FEATURES].copy()
    data[NUMERIC] = data[NUMERIC].astype("float64")
    data[[*CATEGORICAL, VEHICLE]] = data[[*CATEGORICAL, VEHICLE]].astype("object").where(
        data[[*CATEGORICAL, VEHICLE]].notna(), None)
    return data


class Structure:
    """How a stop takes its time, as a field expert writes it:

        minutes = drive + handling
        drive = distance x k x pace[vehicle] x (1 + a congestion) x slow[weather] x (1 + b (stop - 1))
        handling = c x the customer's usual unloading minutes + e x appointment + d

    k, a, b, c, d, e, the slowdown of each weather condition and each vehicle's pace (its minutes
    per km against the fleet's) are fit at once on log minutes (least squares with a soft-L1 loss:
    a stop's duration is multiplicatively noisy and right-skewed), each vehicle's log pace pulled
    to 0 by `penalty`: a vehicle with few deliveries keeps the fleet's pace. A vehicle, weather or
    value unseen in training gets the fleet's pace, no slowdown, the training median."""

    GLOBAL = 6  # k (log), a, b, c (log), e, d

    def __init__(self, penalty: float):
        self.penalty = penalty

    def _columns(self, X: pd.DataFrame) -> list[np.ndarray]:
        filled = X[["congestion_index", "avg_unload_min"]].astype("float64").fillna(self.medians_)
        return [X["planned_distance_km"].to_numpy(float), filled["congestion_index"].to_numpy(),
                X["stop_sequence"].fillna(1).to_numpy(float), filled["avg_unload_min"].to_numpy(),
                X["requires_appointment"].astype("float64").fillna(0).to_numpy(),
                pd.Categorical(X["weather_condition"], categories=self.conditions_).codes,
                pd.Categorical(X[VEHICLE], categories=self.vehicles_).codes]

    def _minutes(self, theta: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
        distance, congestion, stop, unload, appointment, condition, vehicle = columns
        log_k, a, b, log_c, e, d = theta[:self.GLOBAL]
        conditions = len(self.conditions_)
        slow = np.append(theta[self.GLOBAL:self.GLOBAL + conditions], 0.0)[condition]  # code -1: unseen
        pace = np.append(theta[self.GLOBAL + conditions:], 0.0)[vehicle]
        drive = distance * np.exp(log_k + pace + slow) * (1 + a * congestion) * (1 + b * (stop - 1))
        return drive + np.exp(log_c) * unload + e * appointment + d

    def fit(self, X: pd.DataFrame, y) -> Structure:
        from scipy import sparse
        from scipy.optimize import least_squares

        self.medians_ = X[["congestion_index", "avg_unload_min"]].astype("float64").median()
        self.conditions_ = sorted(X["weather_condition"].dropna().unique())
        self.vehicles_ = sorted(X[VEHICLE].dropna().unique())
        columns = self._columns(X)
        rows, conditions, vehicles = len(X), len(self.conditions_), len(self.vehicles_)
        log_minutes = np.log(np.asarray(y, float))
        ridge = np.sqrt(self.penalty)

        def residuals(theta):
            minutes = np.maximum(self._minutes(theta, columns), 1e-3)
            # The slowdowns' tiny ridge only ties them to k (one of them is redundant with it).
            return np.r_[np.log(minutes) - log_minutes, ridge * theta[self.GLOBAL + conditions:],
                         0.01 * theta[self.GLOBAL:self.GLOBAL + conditions]]

        # Each delivery depends on the globals, its weather and its own vehicle only: a sparse
        # Jacobian, so a fleet of 40,000 vehicles costs about what 300 do.
        vehicle = columns[-1]
        pattern = sparse.vstack([
            sparse.hstack([np.ones((rows, self.GLOBAL + conditions)),
                           sparse.csr_matrix((np.ones(rows), (np.arange(rows), np.maximum(vehicle, 0))),
                                             shape=(rows, vehicles))]),
            sparse.hstack([sparse.csr_matrix((vehicles, self.GLOBAL + conditions)), sparse.identity(vehicles)]),
            sparse.hstack([sparse.csr_matrix((conditions, self.GLOBAL)), sparse.identity(conditions),
                           sparse.csr_matrix((conditions, vehicles))]),
        ]).tocsr()
        start = np.r_[np.log(2.0), 0.5, 0.0, 0.0, 5.0, 0.0, np.zeros(conditions + vehicles)]
        low = np.r_[-5.0, 0.0, -0.2, -5.0, 0.0, 0.0, np.full(conditions + vehicles, -2.0)]
        high = np.r_[5.0, 10.0, 1.0, 5.0, 120.0, 120.0, np.full(conditions + vehicles, 2.0)]
        self.theta_ = least_squares(residuals, start, bounds=(low, high), jac_sparsity=pattern, loss="soft_l1",
                                    f_scale=0.05, tr_solver="lsmr", x_scale="jac", max_nfev=200).x
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._minutes(self.theta_, self._columns(X))


class DurationModel:
    """The structure's minutes times a boosted correction of their log (gradient boosting over every
    feature, nulls handled natively): what the structure misses, if the data shows any."""

    def __init__(self, penalty: float, rounds: int, seed: int = 0):
        self.penalty, self.rounds, self.seed = penalty, rounds, seed

    def _correction(self):
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OrdinalEncoder

        encoder = ColumnTransformer(
            [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                           encoded_missing_value=np.nan), CATEGORICAL),
             ("numbers", "passthrough", [*NUMERIC, "structure_log_minutes"])],
            remainder="drop", verbose_feature_names_out=False,  # the vehicle: the structure's pace
        )
        return Pipeline([("encode", encoder), ("regress", HistGradientBoostingRegressor(
            max_iter=self.rounds, learning_rate=thresholds.MODEL_LEARNING_RATE,
            max_leaf_nodes=thresholds.MODEL_MAX_LEAF_NODES, categorical_features=list(range(len(CATEGORICAL))),
            random_state=self.seed))])

    def fit(self, X: pd.DataFrame, y, structure: Structure | None = None) -> DurationModel:
        """`structure`: one already fit on the same rows with this penalty (the validation shares it)."""
        self.structure_ = structure or Structure(self.penalty).fit(X, y)
        self.correction_ = None
        if self.rounds:
            base = self.structure_.predict(X)
            self.correction_ = self._correction().fit(
                X.assign(structure_log_minutes=np.log(base)), np.log(np.asarray(y, float)) - np.log(base))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        base = self.structure_.predict(X)
        if self.correction_ is None:
            return base
        return base * np.exp(self.correction_.predict(X.assign(structure_log_minutes=np.log(base))))


def train(frame: pd.DataFrame, seed: int = 0) -> DurationModel:
    """The model, its pace penalty and correction rounds chosen by a time-ordered validation inside
    the training window: fit on all its days but the last, judged (MAE) on the last. The holdout
    day is never seen."""
    days = sorted(frame["date"].unique())
    chosen = (thresholds.MODEL_PACE_PENALTIES[0], thresholds.MODEL_CORRECTION_ROUNDS[0])
    if len(days) > 1:
        earlier, last = frame[frame["date"] < days[-1]], frame[frame["date"] == days[-1]]
        inputs, label = _inputs(earlier), earlier[LABEL]
        scores = {}
        for penalty in thresholds.MODEL_PACE_PENALTIES:
            structure = Structure(penalty).fit(inputs, label)  # one fit per penalty, whatever the rounds
            for rounds in thresholds.MODEL_CORRECTION_ROUNDS:
                model = DurationModel(penalty, rounds, seed).fit(inputs, label, structure)
                scores[(penalty, rounds)] = errors(model.predict(_inputs(last)), last[LABEL])["mae"]
        chosen = min(scores, key=scores.get)
    return fit(DurationModel(*chosen, seed), frame)


def fit(model, frame: pd.DataFrame):
    """`model`, its hyperparameters fixed, fit on every row of `frame` (`train` fits its choice so;
    the model benchmark its design steps)."""
    return model.fit(_inputs(frame), frame[LABEL].astype("float64"))


def predict(model: DurationModel, frame: pd.DataFrame) -> np.ndarray:
    return model.predict(_inputs(frame))


def split(history: pd.DataFrame, day: str, left_out=()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labelled rows to train on (before `day`, without the days left out) and `day`'s holdout."""
    usable = history[~history["date"].isin(list(left_out))]
    return labelled(usable[usable["date"] < day]), labelled(usable[usable["date"] == day])


def enough_to_train(train_rows: pd.DataFrame, holdout: pd.DataFrame) -> bool:
    return (train_rows["date"].nunique() >= thresholds.MIN_TRAINING_DAYS
            and len(train_rows) >= thresholds.MIN_TRAINING_ROWS and not holdout.empty)


@dataclass
class Candidate:
    model: DurationModel
    predicted: np.ndarray  # on the holdout
    metrics: dict  # candidate, dispatcher and deployed model on the same holdout


def evaluate_candidate(train_rows: pd.DataFrame, holdout: pd.DataFrame, deployed: DurationModel | None = None) -> Candidate:
    """Train a candidate and measure it on the holdout against the dispatcher and the deployed model."""
    model = train(train_rows)
    predicted = predict(model, holdout)
    actual = holdout[LABEL]
    candidate, baseline = errors(predicted, actual), errors(holdout[BASELINE], actual)
    versus = paired_difference(predicted, predict(deployed, holdout), actual) if deployed is not None else None
    return Candidate(model, predicted, {
        "mae": candidate["mae"], "mape": candidate["mape"],
        "baseline_mae": baseline["mae"], "baseline_mape": baseline["mape"],
        "deployed_mae_on_holdout": candidate["mae"] - versus["difference"] if versus else None,
        "vs_deployed": versus,
    })


def paired_difference(candidate, deployed, actual, confidence: float = thresholds.GATE_CONFIDENCE) -> dict:
    """Candidate MAE minus deployed MAE on the same deliveries, with its interval at `confidence`
    each side (paired t). Per delivery the difference of absolute errors is bounded by the two
    predictions' difference, so it does not inherit the delays' heavy tail: the t-interval holds
    on a day's ~1,000 deliveries."""
    from scipy import stats

    actual = np.asarray(actual, float)
    diff = np.abs(np.asarray(candidate, float) - actual) - np.abs(np.asarray(deployed, float) - actual)
    mean = float(diff.mean())
    margin = float(stats.t.ppf(confidence, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return {"difference": mean, "low": mean - margin, "high": mean + margin, "confidence": confidence}


def gate_limit(metrics: dict) -> float:
    """The MAE a candidate must stay below: the seed's margin under the dispatcher's MAE."""
    return thresholds.GATE_BASELINE_RATIO * metrics["baseline_mae"]


def gate_verdict(metrics: dict) -> dict[str, bool]:
    """The evaluation gate: beat the dispatcher by the seed's margin, and not be worse than the
    deployed model beyond what one holdout day's sampling explains."""
    versus = metrics.get("vs_deployed")
    beats_baseline = metrics["mae"] < gate_limit(metrics)
    significantly_worse = versus is not None and versus["low"] > 0
    return {"beats_baseline": beats_baseline, "significantly_worse": significantly_worse,
            "passed": beats_baseline and not significantly_worse}


def errors(predicted, actual) -> dict[str, float]:
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    return {
        "mae": float(np.mean(np.abs(predicted - actual))),
        "mape": float(np.mean(np.abs(predicted - actual) / np.abs(actual))),
    }


def against_the_noise_floor(holdout: pd.DataFrame, predicted, truth: pd.DataFrame) -> dict:
    """Model, dispatcher and oracle MAE on the same delivered stops. The oracle predicts each
    stop's median duration without noise (synthetic.generate_truth): no model can do better on
    absolute error, so model/oracle says how far from what the data allows it is."""
    joined = holdout.assign(predicted=np.asarray(predicted, float)).merge(
        truth, on="delivery_id", how="left", validate="one_to_one")
    if missing := int(joined["best_minutes"].isna().sum()):
        raise ValueError(f"the truth has no answer for {missing} of {len(joined)} delivered stops "
                         f"(e.g. {joined.loc[joined['best_minutes'].isna(), 'delivery_id'].iloc[0]})")
    actual = joined[LABEL]
    mae = {name: errors(joined[column], actual)["mae"] for name, column in
           [("model", "predicted"), ("dispatcher", BASELINE), ("oracle", "best_minutes")]}
    return {"deliveries": len(joined), **{f"{name}_mae": value for name, value in mae.items()},
            "model_vs_oracle": mae["model"] / mae["oracle"], "model_vs_dispatcher": mae["model"] / mae["dispatcher"]}


def training_sample(frame: pd.DataFrame, day: str) -> pd.DataFrame:
    """At most MODEL_TRAINING_ROWS_PER_DAY rows of a training day, the same ones on every run."""
    if len(frame) <= thresholds.MODEL_TRAINING_ROWS_PER_DAY:
        return frame
    return frame.sample(n=thresholds.MODEL_TRAINING_ROWS_PER_DAY, random_state=int(day.replace("-", "")))


DISTANCE_BANDS_KM = {"0-5": 0, "5-10": 5, "10-20": 10, "20-30": 20, "30+": 30}  # label: from (km)


def error_analysis(holdout: pd.DataFrame, predicted) -> str:
    """Where the remaining error sits: the model's and the dispatcher's MAE, and the model's bias
    (mean of predicted minus actual), by distance band, departure hour, region and customer type
    (dock, appointment), as a Markdown table."""
    actual = holdout[LABEL].to_numpy(float)
    frame = pd.DataFrame({
        "distance band (km)": pd.cut(holdout["planned_distance_km"], [*DISTANCE_BANDS_KM.values(), np.inf],
                                     labels=list(DISTANCE_BANDS_KM), right=False),
        "departure hour": holdout["departure_hour"].astype("Int64"),
        "region": holdout["region"].astype(str),
        "customer type": holdout["dock_type"].astype(str) + np.where(
            holdout["requires_appointment"].astype("boolean").fillna(False), ", appointment", ""),
        "model": np.abs(np.asarray(predicted, float) - actual),
        "dispatcher": np.abs(holdout[BASELINE].to_numpy(float) - actual),
        "bias": np.asarray(predicted, float) - actual,
    })
    lines = ["| by | group | deliveries | model MAE | dispatcher MAE | model bias |", "|---|---|---|---|---|---|"]
    for by in ["distance band (km)", "departure hour", "region", "customer type"]:
        groups = frame.groupby(by, sort=True, observed=True)
        table = groups[["model", "dispatcher", "bias"]].mean().assign(deliveries=groups.size())
        lines += [f"| {by} | {group} | {int(row.deliveries)} | {row.model:.2f} | {row.dispatcher:.2f} | {row.bias:+.2f} |"
                  for group, row in table.iterrows()]
    return "\n".join(lines)


def importances(model: DurationModel, frame: pd.DataFrame, seed: int = 0) -> pd.Series:
    """Permutation importance on (a sample of) the holdout: what the model really leans on, in minutes of MAE."""
    from sklearn.inspection import permutation_importance

    frame = frame.sample(n=min(len(frame), thresholds.MODEL_IMPORTANCE_ROWS), random_state=seed)
    result = permutation_importance(
        model, _inputs(frame), frame[LABEL].astype("float64"), n_repeats=3, random_state=seed,
        scoring=lambda model, X, y: -errors(model.predict(X), y)["mae"],  # the model is no sklearn estimator
    )
    return pd.Series(result.importances_mean, index=FEATURES).sort_values(ascending=False)


def evaluation_png(holdout: pd.DataFrame, predicted: np.ndarray) -> bytes:
    """Predicted against actual minutes, and mean absolute error by departure hour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    actual = holdout[LABEL].to_numpy(float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=80)
    left.scatter(actual, predicted, s=6, alpha=0.5, label="model")
    left.scatter(actual, holdout[BASELINE], s=6, alpha=0.3, label="dispatcher")
    top = float(max(actual.max(), np.max(predicted)))
    left.plot([0, top], [0, top], color="black", linewidth=0.8)
    left.set(xlabel="actual minutes", ylabel="predicted minutes", title="Holdout day")
    left.legend(loc="upper left", fontsize=8)
    by_hour = pd.DataFrame({
        "hour": holdout["departure_hour"].to_numpy(),
        "model": np.abs(predicted - actual),
        "dispatcher": np.abs(holdout[BASELINE].to_numpy(float) - actual),
    }).groupby("hour").mean()
    by_hour.plot.bar(ax=right, width=0.8)
    right.set(xlabel="departure hour (UTC)", ylabel="MAE, minutes", title="Error by departure hour")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    """Dagster has no image metadata type: a data URI in Markdown renders in the UI."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
