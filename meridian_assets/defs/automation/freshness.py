"""Freshness: yesterday's raw GPS and ml feature table must be materialized by 03:00 UTC.

Dagster's `FreshnessPolicy`, which supersedes these checks, looks at the last materialization
of any partition, so it cannot say "yesterday's partition by 03:00"; these time-partition
checks can. They fail with ERROR severity (the alert sensor reports them) but block nothing:
lateness is news, not a bad day.
"""

import warnings

import dagster as dg

DEADLINE_CRON = "0 3 * * *"  # UTC: the nightly run has had its time

with warnings.catch_warnings():
    # Superseded by FreshnessPolicy, which cannot express a partition's deadline (see above).
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_checks = dg.build_time_partition_freshness_checks(
        assets=[dg.AssetKey("raw_gps_telemetry"), dg.AssetKey("ml_feature_table")],
        deadline_cron=DEADLINE_CRON,
        timezone="UTC",
        severity=dg.AssetCheckSeverity.ERROR,
    )
    # Runs the checks once a deadline passes; a failed check waits for the asset's next update.
    freshness_sensor = dg.build_sensor_for_freshness_checks(
        freshness_checks=freshness_checks, default_status=dg.DefaultSensorStatus.RUNNING
    )
