"""Every threshold the checks and gates apply, in one place (docs/CHECKS.md explains each)."""

# Raw GPS telemetry, measured against the 7 days before the partition.
FLEET_REPORTING_MIN = 0.90  # share of the vehicles seen in the last 7 days that report today
VOLUME_RATIO_MIN, VOLUME_RATIO_MAX = 0.5, 1.5  # today's rows / median of the last 7 days
HEADING_NULL_RATE_MAX = 0.10  # heading_deg may be null, but not in bursts
GPS_DUPLICATE_RATE_MAX = 0.01  # share of pings repeating a (vehicle_id, event_ts)
ACTIVITY_SHIFT_MAX_HOURS = 1.0  # mean ping hour vs the last 7 days: a timezone error moves it

# Deliveries.
DELIVERED_SHARE_MIN = 0.5  # below this the day's labels are not the usual business
DELIVERY_MINUTES_MIN, DELIVERY_MINUTES_MAX = 1.0, 600.0  # a plausible single stop

# Feature groups and the ml table.
HISTORY_NULL_RATE_MAX = 0.5  # history features (earlier days) may be missing early on: WARN only
SAME_DAY_NULL_RATE_MAX = 0.05  # features of the day itself: blocking
PSI_WARN, PSI_ERROR = 0.10, 0.25  # population stability index vs the last 7 days, on large samples
# On small samples PSI is mostly noise: the limits rise to what sampling alone exceeds with
# these probabilities per feature and day (docs/CHECKS.md has the false alarms measured).
DRIFT_WARN_FALSE_ALARM, DRIFT_ERROR_FALSE_ALARM = 1e-4, 1e-9
DRIFT_MIN_ROWS = 200  # rows of the day before drift is judged at all
DRIFT_MIN_REFERENCE_DAYS = 3  # earlier days to compare with before drift is judged at all
DRIFT_MIN_VEHICLES = 500  # per-vehicle features join the drift check from this fleet size on

# Model training and the evaluation gate (the Airflow DAG's "MAE < 0.95 x baseline").
MIN_TRAINING_DAYS = 3  # fewer labelled history days: skip training with a message
MIN_TRAINING_ROWS = 200
# The model (docs/MODEL.md): a stop's structure (drive at the vehicle's pace, handling) fit on log
# minutes, times a boosted correction; the window it trains on is TRAINING_WINDOW_AND_HOLDOUT
# (spark_jobs/layout.py, with every other window). Chosen per training on its last day
# (time-ordered validation): how hard each vehicle's pace is pulled to the fleet's (a ridge
# penalty on its log, per delivery's squared log error), and the correction's boosting rounds
# (0: none).
MODEL_PACE_PENALTIES = (1.0, 10.0)
MODEL_CORRECTION_ROUNDS = (0, 100)
MODEL_LEARNING_RATE, MODEL_MAX_LEAF_NODES = 0.05, 15
# A 40,000-vehicle day has ~240,000 deliveries: training on every row of 28 such days took
# minutes and gigabytes (docs/BENCHMARKS.md). Each training day gives at most this many rows, a
# uniform sample; smaller fleets train on every row. The holdout day is always used whole.
MODEL_TRAINING_ROWS_PER_DAY = 10_000
MODEL_IMPORTANCE_ROWS = 20_000  # holdout rows the permutation importance is measured on
GATE_BASELINE_RATIO = 0.95  # candidate MAE must be below this share of the dispatcher's MAE
# Against the deployed model the gate refuses only a candidate worse with this one-sided confidence:
# a paired t-test of their absolute errors on the same holdout deliveries (docs/MODEL.md). A
# difference one day's sampling explains ships, so models trained on the newest data do too.
GATE_CONFIDENCE = 0.95
