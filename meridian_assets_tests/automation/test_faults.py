"""The raw step's worst nights, on a real instance (watch.py): a landing zone that times out is
retried with backoff and lands; one that refuses for good fails at once with one alert; a full
disk fails the step clearly and the day already in the lake stays as it was."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import botocore.exceptions as aws

import dagster as dg
from meridian_assets.defs.features.assets import feature_assets
from meridian_assets.defs.ingestion.assets import raw_assets
from meridian_assets.defs.resources import DropFile, LandingZone
from meridian_assets.synthetic import write_day
from meridian_assets_tests.automation.watch import DAY, GPS, drop, run
from meridian_assets_tests.s3 import ENVIRONMENT


class FlakyLanding(LandingZone):
    """The landing zone, whose first reads time out as the vendor's endpoint did at 2 AM."""

    timeouts: str  # a file: how many reads are still to time out (one count for every attempt)

    @contextmanager
    def local_copy(self, file: DropFile, scratch: Path) -> Iterator[Path]:
        counter = Path(self.timeouts)
        left = int(counter.read_text())
        if left:
            counter.write_text(str(left - 1))
            raise aws.ReadTimeoutError(endpoint_url=file.name)
        with super().local_copy(file, scratch) as path:
            yield path


def event_types(result) -> list[str]:
    return [e.event_type_value for e in result.all_events]


def test_a_landing_that_times_out_is_retried_with_backoff_then_lands(tmp_path, instance, watch):
    drop(tmp_path)
    timeouts = tmp_path / "timeouts"
    timeouts.write_text("2")
    landing = FlakyLanding(uri=str(tmp_path / "landing"), timeouts=str(timeouts))

    result = run(tmp_path, instance, dg.AssetSelection.assets(GPS), landing=landing)

    assert result.success
    # docs/RELIABILITY.md: 3 retries, exponential backoff from 2 s, with jitter (plus or minus the base).
    (gps_asset,) = [a for a in raw_assets if GPS in a.keys]
    assert gps_asset.op.retry_policy == dg.RetryPolicy(
        max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
    # Retry n waits 2 s x (2^n - 1), plus or minus 2 s: 0..4 s, then 4..8 s (the waits Dagster
    # scheduled, not time measured by the test).
    waits = [e.event_specific_data.seconds_to_wait for e in result.all_events
             if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(waits) == 2 and 0 <= waits[0] <= 4 <= waits[1] <= 8, waits
    assert instance.get_materialized_partitions(GPS) == {DAY}
    assert watch.tick() == [], "a fault that went away is no alert"


def test_each_spark_step_is_retried_twice_from_15_s():
    """docs/ARCHITECTURE.md: `max_retries=2, delay=15` on Spark, exponential with jitter (a lost
    executor or a JVM that failed to start is worth a second try; a bad drop fails at its checks)."""
    policies = {a.op.name: a.op.retry_policy for a in feature_assets}
    assert sorted(policies) == ["customer_features", "gps_features", "route_features", "traffic_features",
                                "weather_features"]
    expected = dg.RetryPolicy(max_retries=2, delay=15, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
    assert policies == dict.fromkeys(policies, expected)


def test_a_landing_that_refuses_fails_at_once_with_one_alert(tmp_path, instance, watch, s3_endpoint, monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    landing = LandingZone(uri="s3://no-such-bucket/vendor", endpoint_url=s3_endpoint)

    result = run(tmp_path, instance, dg.AssetSelection.assets(GPS), landing=landing)

    assert not result.success
    assert "STEP_UP_FOR_RETRY" not in event_types(result), "waiting does not create a bucket"
    (message,) = watch.tick()
    assert "NoSuchBucket" in message["text"] and "not retried" in message["text"], message["text"]
    assert watch.tick() == []


@contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A filesystem of `size` mounted on `folder` (tmpfs), unmounted after."""
    folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_full_disk_fails_the_step_clearly_and_keeps_the_day(tmp_path, instance, watch):
    with small_disk(tmp_path / "lake", "1m") as lake:
        drop(tmp_path)  # three vehicles: the day fits
        assert run(tmp_path, instance, dg.AssetSelection.assets(GPS)).success
        kept = contents(lake / "raw" / "gps")
        write_day(tmp_path / "landing", DAY, vehicles=300, seed=6)  # delivered again, 60 times larger

        result = run(tmp_path, instance, dg.AssetSelection.assets(GPS))

        assert not result.success
        assert "STEP_UP_FOR_RETRY" not in event_types(result), "a full disk is not retried blindly"
        (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        assert "No space left on device" in failure.event_specific_data.error.to_string()
        assert contents(lake / "raw" / "gps") == kept, "the day in the lake is the one written before"
        (message,) = watch.tick()
        assert f"Run failed: raw_gps_telemetry {DAY}" in message["text"] and "No space left" in message["text"]
