"""A synthetic vendor: writes daily landing-zone drops for all five sources, per CONTRACT.md.

    python -m meridian_assets.synthetic LANDING START END [--vehicles N] [--seed K]
        [--ping-seconds S] [--gps-format parquet|csv|csv.gz] [--noise-scale S] [--truth DIR]

The data is made so that a model can learn something real: a delivery's actual minutes
depend on its driver's speed (which shows in that vehicle's GPS speeds every day), the
region's congestion and weather at departure, the customer's dock, appointment and unload
time, and the stop's place in the route. The dispatcher's estimate only knows the distance.
The noise scale (default 1.0) multiplies the spread of every unpredictable part of a stop's
duration: 0.25 is a quiet vendor, where a model that misses the structure shows it.

Everything is deterministic: the fleet and customers come from the seed alone, so they
persist across days, and each day's data from (seed, day). Same seed and day, same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from meridian_assets.contracts import SOURCES

GPS_FORMATS = ("parquet", "csv", "csv.gz")

# The contract's Arrow schemas, as every part file is written: exactly what ingestion expects.
SCHEMAS: dict[str, pa.Schema] = {name: contract.arrow_schema for name, contract in SOURCES.items()}

# Region: (center lat, center lon, congestion it always has). Around the port of Rotterdam.
REGIONS: dict[str, tuple[float, float, float]] = {
    "north": (52.07, 4.30, 0.10),
    "south": (51.81, 4.67, 0.06),
    "east": (51.98, 4.85, 0.08),
    "west": (51.85, 4.25, 0.05),
    "central": (51.92, 4.48, 0.18),
    "harbor": (51.95, 4.05, 0.12),
    "airport": (51.96, 4.44, 0.10),
    "valley": (51.70, 4.90, 0.03),
}
_REGION_NAMES = np.array(list(REGIONS))
_REGION_LAT, _REGION_LON, _REGION_CONGESTION = (np.array(c) for c in zip(*REGIONS.values()))

# Condition: (share of days, mean precip mm/h, extra wind kph, visibility km, drive-time factor,
# added congestion). Snow days are rain days that are cold enough.
WEATHER_EFFECTS: dict[str, tuple[float, float, float, float, float, float]] = {
    "clear": (0.35, 0.0, 0.0, 30.0, 1.00, 0.00),
    "cloudy": (0.30, 0.0, 3.0, 20.0, 1.00, 0.00),
    "rain": (0.20, 1.2, 6.0, 8.0, 1.15, 0.08),
    "snow": (0.00, 0.8, 8.0, 3.0, 1.40, 0.15),
    "fog": (0.08, 0.0, 0.0, 0.5, 1.25, 0.05),
    "storm": (0.07, 6.0, 45.0, 4.0, 1.50, 0.15),
}
_CONDITIONS = np.array(list(WEATHER_EFFECTS))
_DAY_SHARE, _PRECIP_MEAN, _WIND_EXTRA, _VISIBILITY, _SLOWDOWN, _WEATHER_CONGESTION = (
    np.array(c) for c in zip(*WEATHER_EFFECTS.values())
)
_CLEAR, _CLOUDY, _RAIN, _SNOW = (
    list(WEATHER_EFFECTS).index(c) for c in ("clear", "cloudy", "rain", "snow")
)

# Dock type: (share of customers, typical unload minutes); ground docks are the slowest.
DOCKS: dict[str, tuple[float, float]] = {
    "ground": (0.30, 28.0),
    "dock": (0.45, 9.0),
    "liftgate": (0.25, 16.0),
}
_DOCK_NAMES = np.array(list(DOCKS))
_DOCK_SHARE, _DOCK_UNLOAD = (np.array(c) for c in zip(*DOCKS.values()))
_LOADING_DOCK = list(DOCKS).index("dock")

MIN_STOPS, MAX_STOPS = 4, 8
# The dispatcher plans every leg at one speed plus a flat allowance for the stop.
DISPATCH_KPH = 35.0
DISPATCH_ALLOWANCE_MIN = 20.0
SCHEDULED_SERVICE_MIN = 10.0  # between a scheduled arrival and the next scheduled departure
FREE_FLOW_KPH = 48.0  # an average driver's speed on an empty road

SHIFT_START_S, SHIFT_SECONDS = 5 * 3600, 15 * 3600  # GPS shift 05:00-20:00 UTC
GPS_CHUNK_VEHICLES = 2_000  # vehicles per GPS part file; bounds the peak memory (~0.75 GB in all)
_SEGMENT_PAIRS = 80  # moving+stopped pairs drawn per vehicle; ~2x what a shift needs
_AREA_HALF_WIDTH_KM = 15.0  # vehicles stay in a box this far around their region's center
_KM_PER_DEG_LAT = 111.32

# Independent random streams, so that e.g. a bigger fleet does not change the weather.
_STREAMS = {"fleet": 1, "customers": 2, "weather": 3, "traffic": 4, "deliveries": 5, "gps": 6, "truth": 7}
TRUTH_DRAWS, TRUTH_CHUNK = 1_000, 2_000  # noise draws per stop for generate_truth, stops per batch
_EPOCH = date(2024, 1, 1)


def _rng(seed: int, stream: str, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream], *keys]))


def _as_date(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


def _timestamps(day: date, seconds: np.ndarray) -> pd.DatetimeIndex:
    """UTC instants `seconds` after the day's midnight (NaN gives NaT), at microsecond unit."""
    instants = np.datetime64(day, "us") + np.round(seconds).astype("timedelta64[s]")
    return pd.DatetimeIndex(instants).tz_localize("UTC")


@dataclass(frozen=True)
class _Fleet:
    vehicle_id: np.ndarray  # "V00001", ...
    route_id: np.ndarray  # "R00001", ...: one fixed route per vehicle
    region: np.ndarray  # index into REGIONS: the vehicle's home region
    speed_factor: np.ndarray  # the driver's pace, 0.7 (slow) .. 1.25 (fast)
    idle_tendency: np.ndarray  # chance the engine stays on during a long stop
    route_customers: np.ndarray  # (vehicles, MAX_STOPS) customer indices in the home region


def _customer_count(vehicles: int) -> int:
    return max(50, 3 * vehicles)


def _fleet(vehicles: int, seed: int) -> _Fleet:
    """The fleet, from the seed alone: the same drivers every day."""
    if vehicles < 1:
        raise ValueError(f"vehicles must be >= 1, got {vehicles}")
    rng = _rng(seed, "fleet")
    region = rng.integers(0, len(REGIONS), vehicles)
    # Customer c lives in region c % n, so region r's customers are r + k * n for k < per_region[r].
    n = len(REGIONS)
    per_region = (_customer_count(vehicles) - np.arange(n) + n - 1) // n
    k = (rng.random((vehicles, MAX_STOPS)) * per_region[region][:, None]).astype(np.int64)
    numbers = np.arange(1, vehicles + 1)
    return _Fleet(
        vehicle_id=np.array([f"V{i:05d}" for i in numbers], dtype=object),
        route_id=np.array([f"R{i:05d}" for i in numbers], dtype=object),
        region=region,
        speed_factor=rng.uniform(0.7, 1.25, vehicles),
        idle_tendency=rng.beta(2.0, 5.0, vehicles),
        route_customers=region[:, None] + k * n,
    )


def generate_customers(day: date | str, vehicles: int = 200, seed: int = 7) -> pd.DataFrame:
    """The customer dimension as of `day`: fixed by the seed, except rare dock upgrades.

    About 5% of ground/liftgate customers a year get a loading dock; the upgrade day is
    drawn from the seed, so a snapshot depends only on its day and upgrades persist.
    """
    rng = _rng(seed, "customers")
    count = _customer_count(vehicles)
    dock = rng.choice(len(DOCKS), size=count, p=_DOCK_SHARE)
    appointment = rng.random(count) < 0.35
    unload_factor = rng.lognormal(0.0, 0.25, count)
    upgrade_day = _EPOCH.toordinal() + rng.integers(0, 20 * 365, count)
    dock = np.where(_as_date(day).toordinal() >= upgrade_day, _LOADING_DOCK, dock)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(1, count + 1)],
            "region": _REGION_NAMES[np.arange(count) % len(REGIONS)],
            "dock_type": _DOCK_NAMES[dock],
            "requires_appointment": appointment,
            "avg_unload_min": np.round(_DOCK_UNLOAD[dock] * unload_factor, 1),
        }
    )


def _weather_conditions(day: date, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(condition index, temperature) per (region, hour): shared by weather, traffic, deliveries."""
    rng = _rng(seed, "weather", day.toordinal())
    regions = len(REGIONS)
    # Coldest in mid-January (about 2 C), warmest in mid-July (about 18 C).
    season = 10.0 - 8.0 * np.cos(2 * np.pi * (day.timetuple().tm_yday - 15) / 365.25)
    daily_temp = season + rng.normal(0.0, 3.0) + rng.normal(0.0, 1.0, regions)
    # One weather system covers most regions; some have their own day.
    regime = np.where(
        rng.random(regions) < 0.7,
        rng.choice(len(_CONDITIONS), p=_DAY_SHARE),
        rng.choice(len(_CONDITIONS), size=regions, p=_DAY_SHARE),
    )
    regime = np.where((regime == _RAIN) & (daily_temp < 1.5), _SNOW, regime)
    # The day's weather shows in most hours; the rest are cloudy breaks.
    condition = np.where(rng.random((regions, 24)) < 0.75, regime[:, None], _CLOUDY)
    # Rain, snow, fog and storms damp the swing between night and afternoon.
    diurnal = np.where(np.isin(condition, (_CLEAR, _CLOUDY)), 4.0, 2.0)
    hours = np.arange(24)
    temp = (
        daily_temp[:, None]
        + diurnal * np.cos(2 * np.pi * (hours - 14) / 24)
        + rng.normal(0, 0.4, (regions, 24))
    )
    return condition, temp


def _hourly_frame(day: date, values: dict[str, np.ndarray]) -> pd.DataFrame:
    """A (region, hour) table: `values` are (regions, 24) arrays, one row per region and hour."""
    hours = np.tile(np.arange(24) * 3600.0, len(REGIONS))
    return pd.DataFrame(
        {
            "region": np.repeat(_REGION_NAMES, 24),
            "observed_ts": _timestamps(day, hours),
            **{name: v.ravel() for name, v in values.items()},
        }
    )


def generate_weather(day: date | str, seed: int = 7) -> pd.DataFrame:
    """Hourly weather per region: season and daily cycle in temperature, a daily regime."""
    d = _as_date(day)
    condition, temp = _weather_conditions(d, seed)
    # A stream of its own: these draws must not shift the conditions traffic and deliveries see.
    rng = _rng(seed, "weather", d.toordinal(), 1)
    precip_mean = _PRECIP_MEAN[condition]
    precip = np.round(rng.gamma(2.0, 0.5, condition.shape) * precip_mean, 1)
    wet = precip_mean > 0
    return _hourly_frame(
        d,
        {
            "temp_c": np.round(np.clip(temp, -60, 60), 1),
            "precip_mm": np.where(wet, np.maximum(precip, 0.1), 0.0),  # wet hours measure some
            "wind_kph": np.round(rng.gamma(2.0, 6.0, condition.shape) + _WIND_EXTRA[condition], 1),
            "visibility_km": np.round(
                _VISIBILITY[condition] * rng.lognormal(0, 0.2, condition.shape), 2
            ),
            "condition": _CONDITIONS[condition],
        },
    )


def _congestion(day: date, seed: int) -> np.ndarray:
    """Congestion index per (region, hour): rush hours, weekends, bad weather, noise."""
    rng = _rng(seed, "traffic", day.toordinal())
    hours = np.arange(24)
    rush = 0.45 * np.exp(-0.5 * ((hours - 8) / 1.1) ** 2) + 0.50 * np.exp(
        -0.5 * ((hours - 17) / 1.3) ** 2
    )
    if day.weekday() >= 5:
        rush *= 0.35
    daytime = np.where((hours >= 6) & (hours < 21), 0.15, 0.02)
    condition, _ = _weather_conditions(day, seed)
    level = _REGION_CONGESTION[:, None] + daytime + rush + _WEATHER_CONGESTION[condition]
    return np.clip(level + rng.normal(0.0, 0.04, level.shape), 0.0, 1.0)


def generate_traffic(day: date | str, seed: int = 7) -> pd.DataFrame:
    """Hourly congestion per region, with incidents ~ Poisson(4 * congestion)."""
    d = _as_date(day)
    congestion = _congestion(d, seed)
    incidents = _rng(seed, "traffic", d.toordinal(), 1).poisson(4.0 * congestion)
    return _hourly_frame(
        d, {"congestion_index": np.round(congestion, 4), "incident_count": incidents}
    )


def _durations(drive_min: np.ndarray, unload_min: np.ndarray, appointment: np.ndarray,
               rng: np.random.Generator, noise_scale: float = 1.0) -> np.ndarray:
    """Minutes from departure to the proof-of-delivery scan, one draw per element: right-skewed,
    as real stops are. Unloading varies around the customer's usual time, an appointment adds a
    wait for the slot at the gate, and the whole trip runs long or short together.

    noise_scale s multiplies each part's spread: the lognormal sigmas, and the wait's deviation
    from its 8-minute mean. The same draws are taken whatever s (the same calls, the same stream),
    so the stops after them do not change; at s = 1 every value is today's, bit for bit."""
    unload_factor = rng.lognormal(0.0, 0.3 * noise_scale, drive_min.shape)
    wait_min = rng.gamma(2.0, 4.0, drive_min.shape) * noise_scale + 8.0 * (1.0 - noise_scale)
    handling_min = unload_min * unload_factor + np.where(appointment, wait_min, 0.0)  # wait: for the slot at the gate
    return (drive_min + handling_min) * rng.lognormal(0.0, 0.18 * noise_scale, drive_min.shape)


def _checked_noise_scale(noise_scale: float) -> None:
    # Above 1 the wait, scaled around its mean, could turn negative: the vendor only gets quieter.
    if not 0.0 <= noise_scale <= 1.0:
        raise ValueError(f"noise_scale must be in [0, 1], got {noise_scale}")


def generate_deliveries(day: date | str, vehicles: int = 200, seed: int = 7,
                        noise_scale: float = 1.0) -> pd.DataFrame:
    """The day's stops: a naive schedule from distance, and actual times from the real drivers.

    Actual arrival is the proof-of-delivery scan, so it includes docking, the wait for an
    appointment slot and unloading; the dispatcher's allowance for these is flat.
    """
    return _deliveries(_as_date(day), vehicles, seed, noise_scale)[0]


def generate_truth(day: date | str, vehicles: int = 200, seed: int = 7,
                   noise_scale: float = 1.0) -> pd.DataFrame:
    """What no vendor sends: each stop's duration without its noise, from TRUTH_DRAWS draws of
    the same noise (at the same noise_scale as the drops). expected_minutes is the mean;
    best_minutes the median, the prediction no model can beat on absolute error (the noise floor
    of MAE)."""
    d = _as_date(day)
    frame, known = _deliveries(d, vehicles, seed, noise_scale)
    rng = _rng(seed, "truth", d.toordinal())
    expected, best = [], []
    for start in range(0, len(frame), TRUTH_CHUNK):
        part = {name: np.broadcast_to(values[start:start + TRUTH_CHUNK], (TRUTH_DRAWS, len(values[start:start + TRUTH_CHUNK])))
                for name, values in known.items()}
        draws = _durations(part["drive_min"], part["unload_min"], part["appointment"], rng, noise_scale)
        expected.append(draws.mean(axis=0))
        best.append(np.median(draws, axis=0))
    return pd.DataFrame({"delivery_id": frame["delivery_id"], "expected_minutes": np.concatenate(expected or [[]]),
                         "best_minutes": np.concatenate(best or [[]])})


def _deliveries(d: date, vehicles: int, seed: int,
                noise_scale: float) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The day's stops, and per stop what decides its duration before the noise."""
    _checked_noise_scale(noise_scale)
    fleet = _fleet(vehicles, seed)
    customers = generate_customers(d, vehicles, seed)
    condition, _ = _weather_conditions(d, seed)
    congestion = _congestion(d, seed)
    rng = _rng(seed, "deliveries", d.toordinal())

    # Plan on a (vehicle, stop) grid, then keep each vehicle's first n_stops columns.
    n_stops = rng.integers(MIN_STOPS, MAX_STOPS + 1, vehicles)
    order = np.argsort(rng.random((vehicles, MAX_STOPS)), axis=1)  # today's order of the route
    customer = np.take_along_axis(fleet.route_customers, order, axis=1)
    distance = np.round(np.minimum(1.0 + rng.gamma(2.0, 6.0, customer.shape), 45.0), 1)
    planned_min = np.round(distance / DISPATCH_KPH * 60 + DISPATCH_ALLOWANCE_MIN)
    leg_min = planned_min + SCHEDULED_SERVICE_MIN
    first_departure_min = rng.integers(6 * 60, 9 * 60 + 1, (vehicles, 1))
    departure_min = first_departure_min + np.cumsum(leg_min, axis=1) - leg_min
    kept = np.arange(MAX_STOPS) < n_stops[:, None]
    vehicle = np.broadcast_to(np.arange(vehicles)[:, None], kept.shape)[kept]
    sequence = np.broadcast_to(np.arange(1, MAX_STOPS + 1), kept.shape)[kept]
    customer, distance = customer[kept], distance[kept]
    departure_s, planned_s = departure_min[kept] * 60, planned_min[kept] * 60
    rows = len(vehicle)

    # What really happens; the dispatcher knows none of it.
    region = fleet.region[vehicle]
    hour = (departure_s // 3600).astype(np.int64)
    drive_min = (
        distance
        / (FREE_FLOW_KPH * fleet.speed_factor[vehicle])
        * 60
        * (1 + 1.2 * congestion[region, hour])
        * _SLOWDOWN[condition[region, hour]]
        * (1 + 0.04 * (sequence - 1))  # later stops run slower: the driver tires
    )
    known = {"drive_min": drive_min, "unload_min": customers["avg_unload_min"].to_numpy()[customer],
             "appointment": customers["requires_appointment"].to_numpy()[customer]}
    actual_s = _durations(known["drive_min"], known["unload_min"], known["appointment"], rng, noise_scale) * 60
    actual_departure_s = departure_s + rng.gamma(1.5, 2.5, rows) * 60
    outcome = rng.random(rows)
    status = np.where(outcome < 0.02, "cancelled", np.where(outcome < 0.05, "failed", "delivered"))
    actual_departure_s = np.where(status == "cancelled", np.nan, actual_departure_s)
    actual_arrival_s = np.where(status == "delivered", actual_departure_s + actual_s, np.nan)

    vehicle_id = fleet.vehicle_id[vehicle]
    return pd.DataFrame(
        {
            "delivery_id": [f"D{d:%Y%m%d}-{v}-{s:02d}" for v, s in zip(vehicle_id, sequence)],
            "vehicle_id": vehicle_id,
            "route_id": fleet.route_id[vehicle],
            "customer_id": customers["customer_id"].to_numpy()[customer],
            "region": _REGION_NAMES[region],
            "stop_sequence": sequence.astype(np.int64),
            "planned_distance_km": distance,
            "scheduled_departure_ts": _timestamps(d, departure_s),
            "scheduled_arrival_ts": _timestamps(d, departure_s + planned_s),
            "actual_departure_ts": _timestamps(d, actual_departure_s),
            "actual_arrival_ts": _timestamps(d, actual_arrival_s),
            "status": status,
        }
    ), known


def _fold(x: np.ndarray, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Reflect unbounded coordinates into [-w, w] like a wall would; also where travel is mirrored."""
    u = np.mod(x + half_width, 4 * half_width)
    mirrored = u >= 2 * half_width
    return np.where(mirrored, 3 * half_width - u, u - half_width), mirrored


def _segment_index(rng: np.random.Generator, elapsed_s: np.ndarray, idle_tendency: np.ndarray):
    """For each ping, which segment of the shift it falls in, and each segment's ignition.

    Segments alternate moving (even index) and stopped (odd): stops are either short
    (lights, traffic) or long (deliveries, breaks), and an idle-prone driver keeps the
    engine on through long ones more often.
    """
    vehicles = len(idle_tendency)
    size = (vehicles, _SEGMENT_PAIRS)
    moving_s = rng.gamma(2.0, 9.0, size) * 60
    long_stop = rng.random(size) < 0.5
    stopped_s = (
        np.where(long_stop, rng.lognormal(np.log(8.0), 0.6, size), rng.uniform(0.3, 2.5, size)) * 60
    )
    # The engine goes off only in stops of 5+ minutes, and not when the driver idles through.
    engine_off = (stopped_s >= 300) & (rng.random(size) >= idle_tendency[:, None])
    segments = 2 * _SEGMENT_PAIRS
    ends = np.minimum(
        np.cumsum(np.stack([moving_s, stopped_s], axis=2).reshape(vehicles, segments), axis=1),
        SHIFT_SECONDS,
    )
    ignition = np.stack([np.ones(size, dtype=bool), ~engine_off], axis=2).reshape(
        vehicles, segments
    )
    # One searchsorted for all vehicles: offset each vehicle's times past the previous one's.
    offset = np.arange(vehicles)[:, None] * (SHIFT_SECONDS + 1)
    flat = np.searchsorted((ends + offset).ravel(), (elapsed_s + offset).ravel(), side="right")
    index = flat.reshape(elapsed_s.shape) - np.arange(vehicles)[:, None] * segments
    return np.minimum(index, segments - 1), ignition


def _gps_chunk(
    rng: np.random.Generator,
    day: date,
    fleet: _Fleet,
    vehicles: slice,
    congestion: np.ndarray,
    ping_seconds: int,
) -> pd.DataFrame:
    """Pings of some vehicles, computed on (vehicle, ping) arrays."""
    region = fleet.region[vehicles]
    speed_factor = fleet.speed_factor[vehicles]
    count, pings = len(region), SHIFT_SECONDS // ping_seconds
    shape = (count, pings)
    # Each tracker pings on its own phase within the ping interval.
    elapsed_s = rng.integers(0, ping_seconds, (count, 1)) + ping_seconds * np.arange(pings)
    seconds = SHIFT_START_S + elapsed_s

    segment, segment_ignition = _segment_index(rng, elapsed_s, fleet.idle_tendency[vehicles])
    moving = segment % 2 == 0
    ignition = np.take_along_axis(segment_ignition, segment, axis=1)
    cruise = np.take_along_axis(
        np.clip(rng.lognormal(np.log(42.0), 0.3, segment_ignition.shape), 8, 110), segment, axis=1
    )
    traffic = 1 - 0.5 * congestion[region[:, None], seconds // 3600]
    speed = cruise * speed_factor[:, None] * traffic + rng.normal(0.0, 3.0, shape)
    speed = np.where(moving, np.round(np.clip(speed, 1.0, 250.0), 1), 0.0)

    # Heading drifts while moving, with the odd sharp turn; position integrates speed and heading.
    turn = rng.normal(0.0, 15.0, shape)
    sharp = rng.random(shape)
    turn += np.where(sharp < 0.015, -90.0, np.where(sharp < 0.03, 90.0, 0.0))
    direction = np.radians(
        rng.uniform(0, 360, (count, 1)) + np.cumsum(np.where(moving, turn, 0.0), axis=1)
    )
    step_km = speed * ping_seconds / 3600
    start_east, start_north = rng.uniform(-_AREA_HALF_WIDTH_KM, _AREA_HALF_WIDTH_KM, (2, count, 1))
    east, mirrored_east = _fold(
        start_east + np.cumsum(step_km * np.sin(direction), axis=1), _AREA_HALF_WIDTH_KM
    )
    north, mirrored_north = _fold(
        start_north + np.cumsum(step_km * np.cos(direction), axis=1), _AREA_HALF_WIDTH_KM
    )
    # After a reflection the vehicle travels mirrored, so the heading it reports is too.
    heading = np.degrees(
        np.arctan2(
            np.where(mirrored_east, -1.0, 1.0) * np.sin(direction),
            np.where(mirrored_north, -1.0, 1.0) * np.cos(direction),
        )
    )
    heading = np.mod(np.round(heading, 1), 360.0)  # rounding first keeps 360.0 out
    heading = np.where(rng.random(shape) < 0.03, np.nan, heading)  # no fix on the compass

    lat0, lon0 = _REGION_LAT[region][:, None], _REGION_LON[region][:, None]
    lat = lat0 + (north + rng.normal(0.0, 0.004, shape)) / _KM_PER_DEG_LAT  # ~4 m GPS jitter
    lon = lon0 + (east + rng.normal(0.0, 0.004, shape)) / (
        _KM_PER_DEG_LAT * np.cos(np.radians(lat0))
    )

    # Dropped pings: a few at random, and some vehicles lose signal for 5-30 minutes.
    ping = np.arange(pings)
    outage_start = rng.integers(0, pings, (count, 1))
    outage_len = rng.integers(300, 1800, (count, 1)) // ping_seconds
    outage = (
        (rng.random((count, 1)) < 0.3) & (ping >= outage_start) & (ping < outage_start + outage_len)
    )
    kept = (rng.random(shape) >= 0.01) & ~outage

    return pd.DataFrame(
        {
            "vehicle_id": np.repeat(fleet.vehicle_id[vehicles], kept.sum(axis=1)),
            "event_ts": _timestamps(day, seconds[kept]),
            "lat": np.round(lat[kept], 6),
            "lon": np.round(lon[kept], 6),
            "speed_kph": speed[kept],
            "heading_deg": heading[kept],
            "ignition_on": ignition[kept],
        }
    )


def iter_gps_chunks(
    day: date | str,
    vehicles: int = 200,
    seed: int = 7,
    ping_seconds: int = 60,
    chunk_vehicles: int = GPS_CHUNK_VEHICLES,
) -> Iterator[pd.DataFrame]:
    """The day's GPS pings, `chunk_vehicles` vehicles at a time, to bound memory.

    Arguments are checked now, chunks made lazily: a bad argument must fail before a
    writer has removed the old drop. Each chunk has its own random stream keyed by its
    first vehicle, so the data depends on the chunk size: keep the default.
    """
    if not 1 <= ping_seconds <= 3600:
        raise ValueError(f"ping_seconds must be 1..3600, got {ping_seconds}")
    d = _as_date(day)
    fleet = _fleet(vehicles, seed)
    congestion = _congestion(d, seed)
    return (
        _gps_chunk(
            _rng(seed, "gps", d.toordinal(), start),
            d,
            fleet,
            slice(start, start + chunk_vehicles),
            congestion,
            ping_seconds,
        )
        for start in range(0, vehicles, chunk_vehicles)
    )


def generate_gps(
    day: date | str, vehicles: int = 200, seed: int = 7, ping_seconds: int = 60
) -> pd.DataFrame:
    """All of the day's GPS pings in one frame: for small fleets (tests, notebooks)."""
    return pd.concat(iter_gps_chunks(day, vehicles, seed, ping_seconds), ignore_index=True)


def _write_part(frame: pd.DataFrame, source: str, path: Path, fmt: str) -> None:
    # No pandas metadata: a vendor's file carries only the contract's columns and types.
    table = pa.Table.from_pandas(frame, schema=SCHEMAS[source], preserve_index=False)
    table = table.replace_schema_metadata()
    if fmt == "parquet":
        pq.write_table(table, path)
        return
    # CSV timestamps as ISO-8601 with Z, whole seconds (Arrow's own CSV uses a space and micros).
    # strftime is slow per value, so each distinct instant is formatted once.
    seconds = (
        table["event_ts"].combine_chunks().cast(pa.timestamp("s", tz="UTC")).dictionary_encode()
    )
    iso = pc.take(pc.strftime(seconds.dictionary, format="%Y-%m-%dT%H:%M:%SZ"), seconds.indices)
    table = table.set_column(1, "event_ts", iso)
    # Arrow quotes every string by default; none of these values needs it.
    options = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
    if fmt == "csv.gz":
        # Level 1: several times faster than the default 9 for files ~15% larger;
        # mtime=0 keeps the gzip header, and so the bytes, the same on every run.
        with gzip.GzipFile(path, "wb", compresslevel=1, mtime=0) as sink:
            pacsv.write_csv(table, sink, options)
    else:
        pacsv.write_csv(table, str(path), options)


def _deliver(
    landing: str | Path,
    source: str,
    day: date,
    frames: Iterable[pd.DataFrame],
    fmt: str = "parquet",
) -> int:
    """Replace one drop folder: sentinel gone first, then old parts, new parts, sentinel last.

    Between the first and last step the folder has no `_SUCCESS`, so no reader takes a
    half-replaced drop for a complete one. Returns the rows written.
    """
    folder = Path(landing) / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    sentinel = folder / "_SUCCESS"
    sentinel.unlink(missing_ok=True)
    for old in folder.glob("part-*"):
        old.unlink()
    rows = 0
    for number, frame in enumerate(frames):
        _write_part(frame, source, folder / f"part-{number:05d}.{fmt}", fmt)
        rows += len(frame)
    sentinel.write_bytes(b"")
    return rows


def _reporting(chunks: Iterable[pd.DataFrame], day: date, vehicles: int) -> Iterator[pd.DataFrame]:
    """Pass GPS chunks through, telling stderr after each one is written."""
    started, done, pings = time.monotonic(), 0, 0
    for chunk in chunks:
        yield chunk
        done, pings = min(done + GPS_CHUNK_VEHICLES, vehicles), pings + len(chunk)
        print(
            f"gps {day}: {done}/{vehicles} vehicles, {pings / 1e6:.1f}M pings, "
            f"{time.monotonic() - started:.0f} s",
            file=sys.stderr,
            flush=True,
        )


def write_day(
    landing: str | Path,
    day: date | str,
    vehicles: int = 200,
    seed: int = 7,
    ping_seconds: int = 60,
    gps_format: str = "parquet",
    progress: bool | None = None,
    truth: str | Path | None = None,
    noise_scale: float = 1.0,
) -> dict[str, int]:
    """Write one day's drops of all five sources; returns the rows per source.

    progress: report each GPS chunk on stderr; None means only when there is more than one.
    truth: a folder outside the landing zone for {day}.parquet, generate_truth's answers (the
    platform never reads them; `meridian evaluate` does).
    noise_scale: the spread of the unpredictable part of each stop's duration (_durations).
    """
    if gps_format not in GPS_FORMATS:
        raise ValueError(f"gps_format must be one of {GPS_FORMATS}, got {gps_format!r}")
    _checked_noise_scale(noise_scale)
    d = _as_date(day)
    gps = iter_gps_chunks(d, vehicles, seed, ping_seconds)
    if progress or (progress is None and vehicles > GPS_CHUNK_VEHICLES):
        gps = _reporting(gps, d, vehicles)
    if truth is not None:
        Path(truth).mkdir(parents=True, exist_ok=True)
        generate_truth(d, vehicles, seed, noise_scale).to_parquet(Path(truth) / f"{d.isoformat()}.parquet", index=False)
    return {
        "customers": _deliver(landing, "customers", d, [generate_customers(d, vehicles, seed)]),
        "weather": _deliver(landing, "weather", d, [generate_weather(d, seed)]),
        "traffic": _deliver(landing, "traffic", d, [generate_traffic(d, seed)]),
        "deliveries": _deliver(landing, "deliveries", d, [generate_deliveries(d, vehicles, seed, noise_scale)]),
        "gps": _deliver(landing, "gps", d, gps, gps_format),
    }


def write_drops(
    landing: str | Path,
    start: date | str,
    end: date | str,
    vehicles: int = 200,
    seed: int = 7,
    ping_seconds: int = 60,
    gps_format: str = "parquet",
    progress: bool | None = None,
    truth: str | Path | None = None,
    noise_scale: float = 1.0,
) -> dict[str, dict[str, int]]:
    """Write every day from `start` to `end` inclusive; returns the rows per source per day."""
    first, last = _as_date(start), _as_date(end)
    if last < first:
        raise ValueError(f"end {last} is before start {first}")
    written = {}
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        written[day.isoformat()] = write_day(
            landing, day, vehicles, seed, ping_seconds, gps_format, progress, truth, noise_scale
        )
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m meridian_assets.synthetic", description=__doc__.splitlines()[0]
    )
    parser.add_argument("landing", help="local landing-zone folder")
    parser.add_argument("start", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    parser.add_argument("end", type=date.fromisoformat, help="last day, YYYY-MM-DD (inclusive)")
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ping-seconds", type=int, default=60)
    parser.add_argument("--gps-format", choices=GPS_FORMATS, default="parquet")
    parser.add_argument("--truth", help="also write each stop's noise-free duration here, outside the landing zone")
    parser.add_argument("--noise-scale", type=float, default=1.0,
                        help="spread of each stop's unpredictable minutes, 1.0 as always (0.25: a quiet vendor)")
    args = parser.parse_args(argv)
    try:
        for day, rows in write_drops(
            args.landing,
            args.start,
            args.end,
            args.vehicles,
            args.seed,
            args.ping_seconds,
            args.gps_format,
            truth=args.truth,
            noise_scale=args.noise_scale,
        ).items():
            print(
                f"{day}: " + ", ".join(f"{source} {n}" for source, n in rows.items()),
                file=sys.stderr,
            )
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    main()
