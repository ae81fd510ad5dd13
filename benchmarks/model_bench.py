"""The delivery-time model against the oracle at two noise levels of the synthetic vendor (issue 33).

For each noise scale (default 1.0, the demo's vendor, and 0.25, a quiet one) it writes DAYS days
of VEHICLES vehicles with the vendor's answers (`--truth`), builds the days' data with the
pipeline in one range run (`meridian launch --backfill data_backfill`, as `make run` does: Spark
feature groups and the dbt-built ml_feature_table), then replays what `daily_model` does day by
day, in this process, on the lake's ml_feature_table: the candidate trained on its training window
(model.training_sample of each day, model.split), judged by the gate (model.evaluate_candidate,
model.gate_verdict) against the model deployed before it, deployed if it passes. Prints per
holdout day the candidate's MAE beside the dispatcher's and the oracle's, model/oracle and
model/dispatcher, which model is deployed after the day, and each noise level's target.

--steps measures, instead, each design step of the model (STEPS: from the model before issue 33,
rebuilt here, to the shipped one, each adding one thing) on each holdout day, without the gate:
model/oracle per day, on the last day and over all of them, and model/dispatcher.

The data is built once per folder: --reuse skips the build when the folder's lake has every day
(to iterate on the model alone). Spark runs on one core (local[1]) unless MERIDIAN_SPARK_MASTER
says otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meridian_assets import synthetic, thresholds  # noqa: E402
from meridian_assets.defs.ml import model as dtm  # noqa: E402
from spark_jobs.layout import TRAINING_WINDOW_AND_HOLDOUT  # noqa: E402

# Issue 33: the deployed model's MAE over the oracle's, at each noise scale.
TARGETS = {1.0: 1.05, 0.25: 1.15}


def build(folder: Path, days: list[str], vehicles: int, seed: int, noise_scale: float) -> None:
    """Drops and truth for the days, then their data through the code location, as `make run`."""
    synthetic.write_drops(folder / "landing", days[0], days[-1], vehicles, seed, truth=folder / "truth",
                          noise_scale=noise_scale)
    home = folder / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_bytes((ROOT / "dagster.yaml").read_bytes())
    env = {**os.environ, "DAGSTER_HOME": str(home), "MERIDIAN_LANDING": str(folder / "landing"),
           "MERIDIAN_LAKE": str(folder / "lake"), "PATH": f"{ROOT / '.venv/bin'}{os.pathsep}{os.environ['PATH']}"}
    env.setdefault("MERIDIAN_SPARK_MASTER", "local[1]")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "meridian_assets.cli", "launch", days[0], days[-1],
                    "--backfill", "data_backfill", "--jobs", "", "--log", str(home / "runs.log")],
                   cwd=ROOT, env=env, check=True)
    print(f"  built {days[0]}..{days[-1]} in {time.perf_counter() - started:.0f} s ({home / 'runs.log'})",
          flush=True)


def ml_days(lake: Path, days: list[str]) -> dict[str, pd.DataFrame]:
    return {day: pd.read_parquet(lake / "ml_feature_table" / f"date={day}").assign(date=day) for day in days
            if (lake / "ml_feature_table" / f"date={day}").exists()}


def holdout_days(tables: dict[str, pd.DataFrame]):
    """Each day delivery_time_model trains on, with its training rows (its window's sample) and holdout."""
    for day in sorted(tables):
        window = [d for d in TRAINING_WINDOW_AND_HOLDOUT.days(day, day) if d in tables]
        history = pd.concat([tables[d] if d == day else dtm.training_sample(tables[d], d) for d in window],
                            ignore_index=True)
        train_rows, holdout = dtm.split(history, day)
        if dtm.enough_to_train(train_rows, holdout):
            yield day, train_rows, holdout


def replay(tables: dict[str, pd.DataFrame], truth: Path) -> list[dict]:
    """daily_model's decisions, day by day: each candidate on its holdout day, gated against the
    model deployed before it (as delivery_time_model, evaluation_gate and deployed_model do)."""
    rows, deployed = [], None
    for day, train_rows, holdout in holdout_days(tables):
        started = time.perf_counter()
        candidate = dtm.evaluate_candidate(train_rows, holdout, deployed)
        seconds = time.perf_counter() - started
        passed = dtm.gate_verdict(candidate.metrics)["passed"]
        deployed = candidate.model if passed else deployed
        floor = dtm.against_the_noise_floor(holdout, candidate.predicted, pd.read_parquet(truth / f"{day}.parquet"))
        rows.append({"day": day, "training_days": train_rows["date"].nunique(), "seconds": seconds,
                     "deployed": passed, **floor})
    return rows


def overall(rows: list[dict]) -> tuple[int, dict[str, float]]:
    """The holdout days' deliveries and their MAEs over all of them (each day weighted by its deliveries)."""
    weights = sum(r["deliveries"] for r in rows)
    return weights, {k: sum(r[k] * r["deliveries"] for r in rows) / weights
                     for k in ("model_mae", "dispatcher_mae", "oracle_mae")}


def report(noise_scale: float, rows: list[dict]) -> None:
    target = TARGETS.get(noise_scale)
    print(f"noise scale {noise_scale}: each candidate on its own holdout day (MAE in minutes); "
          f"target: the deployed model within {f'{target:.2f}x' if target else '(none)'} the oracle")
    print(f"{'holdout day':<12}{'train days':>11}{'deliveries':>11}{'model':>8}{'dispatcher':>11}{'oracle':>8}"
          f"{'model/oracle':>14}{'model/dispatcher':>18}{'train s':>9}  gate")
    for r in rows:
        print(f"{r['day']:<12}{r['training_days']:>11}{r['deliveries']:>11}{r['model_mae']:>8.2f}"
              f"{r['dispatcher_mae']:>11.2f}{r['oracle_mae']:>8.2f}{r['model_vs_oracle']:>14.3f}"
              f"{r['model_vs_dispatcher']:>18.3f}{r['seconds']:>9.1f}  {'deployed' if r['deployed'] else 'held'}")
    weights, mean = overall(rows)
    print(f"{'all days':<12}{'':>11}{weights:>11}{mean['model_mae']:>8.2f}{mean['dispatcher_mae']:>11.2f}"
          f"{mean['oracle_mae']:>8.2f}{mean['model_mae'] / mean['oracle_mae']:>14.3f}"
          f"{mean['model_mae'] / mean['dispatcher_mae']:>18.3f}")
    last = [r for r in rows if r["deployed"]][-1:]
    if last and target:
        ratio = last[0]["model_vs_oracle"]
        print(f"deployed after {rows[-1]['day']}: the candidate of {last[0]['day']}, {ratio:.3f}x the oracle on its "
              f"holdout day, target {target:.2f}x: {'met' if ratio <= target else 'NOT met'}; "
              f"over all holdout days {mean['model_mae'] / mean['oracle_mae']:.3f}x")
    print(flush=True)


class Before:
    """The model before issue 33 (commit 8ce3644), rebuilt here as the design steps' reference: one
    gradient-boosting regressor on absolute error over the features but the vehicle id, with that
    commit's rounds, learning rate and leaves; `log`: trained on log minutes, its answer exponentiated."""

    ROUNDS, LEARNING_RATE, MAX_LEAF_NODES = 300, 0.08, 31  # thresholds.py at 8ce3644

    def __init__(self, log: bool):
        self.log = log

    def fit(self, X: pd.DataFrame, y) -> Before:
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OrdinalEncoder

        encoder = ColumnTransformer(
            [("categories", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                           encoded_missing_value=np.nan), dtm.CATEGORICAL),
             ("numbers", "passthrough", dtm.NUMERIC)],
            remainder="drop", verbose_feature_names_out=False,
        )
        regressor = HistGradientBoostingRegressor(
            loss="absolute_error", max_iter=self.ROUNDS, learning_rate=self.LEARNING_RATE,
            max_leaf_nodes=self.MAX_LEAF_NODES, categorical_features=list(range(len(dtm.CATEGORICAL))),
            random_state=0)
        self.pipeline_ = Pipeline([("encode", encoder), ("regress", regressor)])
        self.pipeline_.fit(X, np.log(y) if self.log else y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        predicted = self.pipeline_.predict(X)
        return np.exp(predicted) if self.log else predicted


# A pace penalty this large holds every vehicle's log pace at 0 (the fleet's): the structure alone.
FLEET_PACE = 1e6
PENALTY, ROUNDS = thresholds.MODEL_PACE_PENALTIES[0], max(thresholds.MODEL_CORRECTION_ROUNDS)
# Issue 33's design steps, each adding one thing to the one before: name, training on a window's rows.
STEPS = {
    "0 before issue 33 (8ce3644): boosting on minutes": lambda rows: dtm.fit(Before(log=False), rows),
    "1 the same on log minutes": lambda rows: dtm.fit(Before(log=True), rows),
    "2 structure, every vehicle at the fleet's pace": lambda rows: dtm.fit(dtm.DurationModel(FLEET_PACE, 0), rows),
    f"3 + each vehicle's pace (penalty {PENALTY:g})": lambda rows: dtm.fit(dtm.DurationModel(PENALTY, 0), rows),
    f"4 + boosted correction ({ROUNDS} rounds)": lambda rows: dtm.fit(dtm.DurationModel(PENALTY, ROUNDS), rows),
    "5 shipped: penalty, rounds chosen on the last day": dtm.train,
}


def design_steps(tables: dict[str, pd.DataFrame], truth: Path) -> dict[str, list[dict]]:
    """Each design step's candidate on each holdout day (no gate: each day's candidate is measured)."""
    rows = {name: [] for name in STEPS}
    for day, train_rows, holdout in holdout_days(tables):
        answers = pd.read_parquet(truth / f"{day}.parquet")
        for name, train in STEPS.items():
            started = time.perf_counter()
            predicted = dtm.predict(train(train_rows), holdout)
            rows[name].append({"day": day, "seconds": time.perf_counter() - started,
                               **dtm.against_the_noise_floor(holdout, predicted, answers)})
    return rows


def report_steps(noise_scale: float, steps: dict[str, list[dict]]) -> None:
    days = [r["day"] for r in next(iter(steps.values()))]
    print(f"noise scale {noise_scale}: each design step's candidate on the holdout days {days[0]}..{days[-1]}; "
          f"last: the last day's candidate (the one deployed)")
    print(f"{'design step':<52}{'model/oracle per holdout day':>{7 * len(days)}}{'last':>8}{'all':>8}"
          f"{'model/dispatcher last':>23}{'all':>7}{'train s':>9}")
    for name, rows in steps.items():
        _, mean = overall(rows)
        per_day = "".join(f"{r['model_vs_oracle']:>7.3f}" for r in rows)
        print(f"{name:<52}{per_day}"
              f"{rows[-1]['model_vs_oracle']:>8.3f}{mean['model_mae'] / mean['oracle_mae']:>8.3f}"
              f"{rows[-1]['model_vs_dispatcher']:>23.3f}{mean['model_mae'] / mean['dispatcher_mae']:>7.3f}"
              f"{sum(r['seconds'] for r in rows):>9.1f}")
    print(flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise-scales", type=float, nargs="+", default=[1.0, 0.25])
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--vehicles", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default="2026-10-05")
    parser.add_argument("--folder", type=Path, help="where the drops, truth, instance and lake go "
                        "(one sub-folder per noise scale; default a temporary folder, removed after)")
    parser.add_argument("--reuse", action="store_true", help="do not rebuild a folder whose lake has every day")
    parser.add_argument("--steps", action="store_true", help="instead of the gated replay, each design step of "
                        "the model (STEPS) on each holdout day")
    args = parser.parse_args()
    first = date.fromisoformat(args.start)
    days = [(first + timedelta(days=i)).isoformat() for i in range(args.days)]
    print(f"{args.days} days {days[0]}..{days[-1]} of {args.vehicles} vehicles, seed {args.seed}; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="model-bench-") as scratch:
        for noise_scale in args.noise_scales:
            folder = (args.folder or Path(scratch)) / f"noise-{noise_scale}"
            if not (args.reuse and len(ml_days(folder / "lake", days)) == len(days)):
                build(folder, days, args.vehicles, args.seed, noise_scale)
            tables, truth = ml_days(folder / "lake", days), folder / "truth"
            if args.steps:
                report_steps(noise_scale, design_steps(tables, truth))
            else:
                report(noise_scale, replay(tables, truth))


if __name__ == "__main__":
    main()
