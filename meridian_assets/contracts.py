"""The landing-zone contract (shared/CONTRACT.md) declared once per source.

Each declaration gives three views: the Arrow schema ingestion normalizes to, the pandera
schema the checks validate with, and the TableSchema the UI shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dagster as dg
import pyarrow as pyarrow
import pyarrow.types as pat

if TYPE_CHECKING:
    import pandera.pandas as pa

ARROW_TYPES = {
    "string": pyarrow.string(),
    "double": pyarrow.float64(),
    "int": pyarrow.int64(),
    "bool": pyarrow.bool_(),
    "timestamp": pyarrow.timestamp("us", tz="UTC"),
}
# The Arrow types a column of each kind may arrive as: integers widen to double without loss;
# timestamps in any unit, naive ones being UTC by contract.
ACCEPTS = {
    "string": lambda t: pat.is_string(t) or pat.is_large_string(t)
    or (pat.is_dictionary(t) and pat.is_string(t.value_type)),
    "double": lambda t: pat.is_floating(t) or pat.is_integer(t),
    "int": pat.is_integer,
    "bool": pat.is_boolean,
    "timestamp": pat.is_timestamp,
}
PANDAS_DTYPES = {
    "string": "object",
    "double": "float64",
    "int": "int64",
    "bool": "bool",
    "timestamp": "datetime64[us, UTC]",
}


@dataclass(frozen=True)
class Check:
    """A pandera check, declared without loading pandera (0.25 s at every code-location load):
    pandera's built-in `Check.<name>(**statistics)`, or a custom vectorised `test`. Built where a
    contract is validated; `quality.check_sql` compiles the same declaration to SQL."""

    name: str
    statistics: Mapping = field(default_factory=dict, hash=False)
    error: str | None = None  # a custom check's message; a built-in's is pandera's own
    test: Callable | None = None

    def pandera(self) -> pa.Check:
        import pandera.pandas as pa

        if self.test is None:
            return getattr(pa.Check, self.name)(**self.statistics)
        return pa.Check(self.test, element_wise=False, name=self.name, error=self.error,
                        statistics=dict(self.statistics))

    @property
    def label(self) -> str:
        """The check's name in pandera's failure cases, e.g. `in_range(0, 360)`."""
        return self.pandera().error or self.name


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    description: str
    nullable: bool = False
    unique: bool = False
    checks: tuple[Check, ...] = ()
    rule: str = ""  # the contract's rule in words, shown in the UI


@dataclass(frozen=True)
class Contract:
    name: str  # landing source or feature group
    asset_name: str
    description: str
    columns: tuple[Column, ...]
    time_column: str | None = None
    key: tuple[str, ...] = field(default_factory=tuple)
    entity: str | None = None  # its distinct values are listed in each day's profile (who reported)
    # Feature tables come from Spark, whose integer widths are its own: compare values, not widths.
    coerce: bool = False

    @property
    def arrow_schema(self) -> pyarrow.Schema:
        return pyarrow.schema([(c.name, ARROW_TYPES[c.kind]) for c in self.columns])

    @property
    def pandera_schema(self) -> pa.DataFrameSchema:
        import pandera.pandas as pa

        return pa.DataFrameSchema(
            {
                c.name: pa.Column(
                    "Int64" if c.kind == "int" and c.nullable else PANDAS_DTYPES[c.kind],
                    checks=[check.pandera() for check in c.checks],
                    nullable=c.nullable,
                    unique=c.unique,
                    description=c.description,
                )
                for c in self.columns
            },
            strict=True,
            coerce=self.coerce,
            name=self.asset_name,
        )

    @property
    def table_schema(self) -> dg.TableSchema:
        return dg.TableSchema(
            columns=[
                dg.TableColumn(
                    c.name,
                    c.kind,
                    description=f"{c.description}{' (' + c.rule + ')' if c.rule else ''}",
                    constraints=dg.TableColumnConstraints(
                        nullable=c.nullable, unique=c.unique, other=[c.rule] if c.rule else []
                    ),
                )
                for c in self.columns
            ]
        )


def _range(lo: float, hi: float, *, hi_inclusive: bool = True) -> tuple[Check, ...]:
    return (Check("in_range", {"min_value": lo, "max_value": hi, "include_max": hi_inclusive}),)


def _at_least(value: float) -> tuple[Check, ...]:
    return (Check("greater_than_or_equal_to", {"min_value": value}),)


def _above(value: float) -> tuple[Check, ...]:
    return (Check("greater_than", {"min_value": value}),)


def _one_of(*values: str) -> tuple[Check, ...]:
    return (Check("isin", {"allowed_values": list(values)}),)


def _on_the_hour() -> Check:
    return Check(
        "on_the_hour",
        {"sql": "{column} = date_trunc('hour', {column})"},  # the same test in SQL (quality.py)
        error="timestamp on the hour",
        test=lambda s: (s.dt.minute == 0) & (s.dt.second == 0) & (s.dt.microsecond == 0),
    )


_REGION_HOUR = (
    Column("region", "string", "Operating region."),
    Column("observed_ts", "timestamp", "Observation hour (UTC).", checks=(_on_the_hour(),),
           rule="on the hour, within the day"),
)

STATUSES = ("delivered", "cancelled", "failed")
CONDITIONS = ("clear", "cloudy", "rain", "snow", "fog", "storm")
DOCK_TYPES = ("ground", "dock", "liftgate")

GPS = Contract(
    name="gps",
    asset_name="raw_gps_telemetry",
    description="One row per telemetry ping of a vehicle.",
    time_column="event_ts",
    key=("vehicle_id", "event_ts"),
    entity="vehicle_id",
    columns=(
        Column("vehicle_id", "string", "Vehicle that sent the ping."),
        Column("event_ts", "timestamp", "When the ping was taken (UTC).", rule="within the day"),
        Column("lat", "double", "Latitude, degrees.", checks=_range(-90, 90), rule="-90..90"),
        Column("lon", "double", "Longitude, degrees.", checks=_range(-180, 180), rule="-180..180"),
        Column("speed_kph", "double", "Ground speed.", checks=_range(0, 250), rule="0..250"),
        Column(
            "heading_deg", "double", "Compass heading.", nullable=True,
            checks=_range(0, 360, hi_inclusive=False), rule="0..360, 360 excluded",
        ),
        Column("ignition_on", "bool", "Engine running."),
    ),
)

DELIVERIES = Contract(
    name="deliveries",
    asset_name="raw_deliveries",
    description="One row per delivery (stop) dispatched that day.",
    time_column="scheduled_departure_ts",
    key=("delivery_id",),
    columns=(
        Column("delivery_id", "string", "Delivery (stop) id.", unique=True, rule="unique"),
        Column("vehicle_id", "string", "Vehicle that drives it."),
        Column("route_id", "string", "Route the stop belongs to."),
        Column("customer_id", "string", "Customer delivered to."),
        Column("region", "string", "Operating region."),
        Column("stop_sequence", "int", "Position on the route.", checks=_at_least(1), rule=">= 1"),
        Column(
            "planned_distance_km", "double", "Planned leg distance.",
            checks=_above(0), rule="> 0",
        ),
        Column("scheduled_departure_ts", "timestamp", "Planned departure.", rule="within the day"),
        Column("scheduled_arrival_ts", "timestamp", "Planned arrival.", rule="after departure"),
        Column("actual_departure_ts", "timestamp", "Real departure.", nullable=True,
               rule="null when cancelled"),
        Column("actual_arrival_ts", "timestamp", "Real arrival.", nullable=True,
               rule="null unless delivered"),
        Column("status", "string", "Outcome.", checks=_one_of(*STATUSES), rule="one of " + ", ".join(STATUSES)),
    ),
)

WEATHER = Contract(
    name="weather",
    asset_name="raw_weather",
    description="Hourly weather observations per region.",
    time_column="observed_ts",
    key=("region", "observed_ts"),
    columns=(
        *_REGION_HOUR,
        Column("temp_c", "double", "Air temperature.", checks=_range(-60, 60), rule="-60..60"),
        Column("precip_mm", "double", "Precipitation in the hour.", checks=_at_least(0), rule=">= 0"),
        Column("wind_kph", "double", "Wind speed.", checks=_at_least(0), rule=">= 0"),
        Column("visibility_km", "double", "Visibility.", checks=_at_least(0), rule=">= 0"),
        Column("condition", "string", "Sky condition.", checks=_one_of(*CONDITIONS),
               rule="one of " + ", ".join(CONDITIONS)),
    ),
)

TRAFFIC = Contract(
    name="traffic",
    asset_name="raw_traffic",
    description="Hourly congestion per region.",
    time_column="observed_ts",
    key=("region", "observed_ts"),
    columns=(
        *_REGION_HOUR,
        Column("congestion_index", "double", "0 free flow, 1 gridlock.", checks=_range(0, 1), rule="0..1"),
        Column("incident_count", "int", "Incidents reported in the hour.", checks=_at_least(0), rule=">= 0"),
    ),
)

CUSTOMERS = Contract(
    name="customers",
    asset_name="raw_customers",
    description="Full snapshot of the customer dimension as of that day.",
    key=("customer_id",),
    columns=(
        Column("customer_id", "string", "Customer id.", unique=True, rule="unique"),
        Column("region", "string", "Region of the customer's site."),
        Column("dock_type", "string", "How goods are unloaded.", checks=_one_of(*DOCK_TYPES),
               rule="one of " + ", ".join(DOCK_TYPES)),
        Column("requires_appointment", "bool", "Deliveries need a booked slot."),
        Column("avg_unload_min", "double", "Usual unloading time.", checks=_at_least(0), rule=">= 0"),
    ),
)

SOURCES: dict[str, Contract] = {c.name: c for c in (GPS, DELIVERIES, WEATHER, TRAFFIC, CUSTOMERS)}


def _share() -> tuple[Check, ...]:
    return _range(0, 1)


def _feature(name: str, description: str, key: tuple[str, ...], columns: tuple[Column, ...]) -> Contract:
    return Contract(name=name, asset_name=f"{name}_features", description=description, key=key,
                    columns=columns, coerce=True)


GPS_FEATURES = _feature("gps", "Driving behaviour per vehicle and day.", ("vehicle_id",), (
    Column("vehicle_id", "string", "Vehicle.", unique=True, rule="unique"),
    Column("ping_count", "int", "Pings that day.", checks=_at_least(1), rule=">= 1"),
    Column("mean_speed_kph", "double", "Mean speed over all pings.", checks=_range(0, 250), rule="0..250"),
    Column("p95_speed_kph", "double", "95th percentile of speed.", checks=_range(0, 250), rule="0..250"),
    Column("moving_fraction", "double", "Share of pings at 1 kph or more.", checks=_share(), rule="0..1"),
    Column("idle_fraction", "double", "Share of pings with ignition on below 1 kph.", checks=_share(), rule="0..1"),
    Column("stop_count", "int", "Stops of 3 minutes or more.", checks=_at_least(0), rule=">= 0"),
    Column("distance_km", "double", "Haversine distance between consecutive pings.", checks=_at_least(0), rule=">= 0"),
    Column("longest_gap_min", "double", "Longest time between pings.", nullable=True, checks=_at_least(0), rule=">= 0"),
    Column("active_hours_fraction", "double", "Share of the day's 24 hours with pings.", checks=_share(), rule="0..1"),
))

ROUTE_FEATURES = _feature("route", "Per delivery of the day, with the delays of its route, vehicle and region-hour before it.", ("delivery_id",), (
    Column("delivery_id", "string", "Delivery.", unique=True, rule="unique"),
    Column("route_id", "string", "Route."),
    Column("vehicle_id", "string", "Vehicle."),
    Column("customer_id", "string", "Customer."),
    Column("region", "string", "Region."),
    Column("scheduled_departure_ts", "timestamp", "Planned departure."),
    Column("planned_distance_km", "double", "Planned leg distance.", checks=_above(0), rule="> 0"),
    Column("stop_sequence", "int", "Position on the route.", checks=_at_least(1), rule=">= 1"),
    Column("route_stops", "int", "Deliveries on the route that day.", checks=_at_least(1), rule=">= 1"),
    Column("scheduled_minutes", "double", "Dispatcher's planned minutes.", checks=_above(0), rule="> 0"),
    Column("departure_hour", "int", "UTC hour of departure.", checks=_range(0, 23), rule="0..23"),
    Column("weekday", "int", "1 Monday .. 7 Sunday.", checks=_range(1, 7), rule="1..7"),
    Column("route_mean_delay_7d", "double", "Mean delay on the route over D-7..D-1.", nullable=True),
    Column("route_deliveries_7d", "int", "Delivered stops behind that mean.", checks=_at_least(0), rule=">= 0"),
    Column("veh_pace_28d", "double", "The vehicle's actual over scheduled trip minutes over D-28..D-1.", nullable=True,
           checks=_above(0), rule="> 0"),
    Column("veh_deliveries_28d", "int", "Delivered stops behind that pace.", checks=_at_least(0), rule=">= 0"),
    Column("region_hour_mean_delay_28d", "double",
           "Mean delay of the region's deliveries departing in the same UTC hour over D-28..D-1.", nullable=True),
))

WEATHER_FEATURES = _feature("weather", "Hourly weather per region with the 3 hours before.", ("region", "observed_ts"), (
    *WEATHER.columns,
    Column("precip_prev_3h_mm", "double", "Precipitation of the 3 hours before.", nullable=True,
           checks=_at_least(0), rule=">= 0"),
))

TRAFFIC_FEATURES = _feature("traffic", "Hourly congestion per region with the hour before.", ("region", "observed_ts"), (
    *TRAFFIC.columns,
    Column("congestion_prev_1h", "double", "Congestion an hour earlier.", nullable=True, checks=_share(), rule="0..1"),
    Column("incidents_prev_1h", "int", "Incidents an hour earlier.", nullable=True, checks=_at_least(0), rule=">= 0"),
))

CUSTOMER_FEATURES = _feature("customer", "Customers as known before the day's dispatch.", ("customer_id",), (
    *CUSTOMERS.columns,
    Column("on_time_rate_28d", "double", "On-time share over D-28..D-1.", nullable=True, checks=_share(), rule="0..1"),
    Column("deliveries_28d", "int", "Deliveries over D-28..D-1.", checks=_at_least(0), rule=">= 0"),
    Column("mean_delay_28d", "double", "Mean delay of its delivered stops over D-28..D-1 (unloading and waiting "
           "beyond the plan).", nullable=True),
))

FEATURES: dict[str, Contract] = {
    c.name: c for c in (GPS_FEATURES, ROUTE_FEATURES, WEATHER_FEATURES, TRAFFIC_FEATURES, CUSTOMER_FEATURES)
}
