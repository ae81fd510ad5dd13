"""Training and evaluating the delivery-time model: pure functions over DataFrames."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # scikit-learn and scipy load in the model's step, not with the code location
    from sklearn.pipeline import Pipeline

from meridian_assets import thresholds

LABEL = "delivery_minutes"
BASELINE = "scheduled_minutes"
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
FEATURES = NUMERIC + CATEGORICAL


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Delivered rows with a label: cancelled and failed stops have no delivery time."""
    return frame[frame["status"].eq("delivered") & frame[LABEL].notna()]


def _inputs(frame: pd.DataFrame) -> pd.DataFrame:
    data = frame[FEATURES].copy()
    data[NUMERIC] = data[NUMERIC].astype("float64")
    data[CATEGORICAL] = data[CATEGORICAL].astype("object").where(data[CATEGORICAL].notna(), None)
    return data


def train(frame: pd.DataFrame, seed: int = 0) -> Pipeline:
    """Gradient boosting: handles missing history (nulls) natively, no imputation to invent."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encoder = ColumnTransformer(
        [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                       encoded_missing_value=np.nan), CATEGORICAL)],
        remainder="passthrough", verbose_feature_names_out=False,
    )
    regressor = HistGradientBoostingRegressor(
        loss="absolute_error", max_iter=thresholds.MODEL_MAX_ITER, learning_rate=thresholds.MODEL_LEARNING_RATE,
        max_leaf_nodes=thresholds.MODEL_MAX_LEAF_NODES, categorical_features=list(range(len(CATEGORICAL))),
        random_state=seed,
    )
    model = Pipeline([("encode", encoder), ("regress", regressor)])
    model.fit(_inputs(frame), frame[LABEL].astype("float64"))
    return model


def predict(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
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
    model: Pipeline
    predicted: np.ndarray  # on the holdout
    metrics: dict  # candidate, dispatcher and deployed model on the same holdout


def evaluate_candidate(train_rows: pd.DataFrame, holdout: pd.DataFrame, deployed: Pipeline | None = None) -> Candidate:
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


def importances(model: Pipeline, frame: pd.DataFrame, seed: int = 0) -> pd.Series:
    """Permutation importance on (a sample of) the holdout: what the model really leans on, in minutes of MAE."""
    from sklearn.inspection import permutation_importance

    frame = frame.sample(n=min(len(frame), thresholds.MODEL_IMPORTANCE_ROWS), random_state=seed)
    result = permutation_importance(
        model, _inputs(frame), frame[LABEL].astype("float64"), n_repeats=3, random_state=seed,
        scoring="neg_mean_absolute_error",
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
