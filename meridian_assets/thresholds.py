"""Every threshold the checks and gates apply, in one place (documented in docs/CHECKS.md)."""

# Model training and the evaluation gate (the Airflow DAG's "MAE < 0.95 x baseline").
MIN_TRAINING_DAYS = 3  # fewer labelled history days: skip training with a message
MIN_TRAINING_ROWS = 200
GATE_BASELINE_RATIO = 0.95  # candidate MAE must be below this share of the dispatcher's MAE
