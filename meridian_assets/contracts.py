"""The landing-zone contract (shared/CONTRACT.md) declared once per source.

Each declaration gives three views: the Arrow schema ingestion normalizes to, the pandera
schema the checks validate with, and the TableSchema the UI shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import pandera.pandas as pa
import pyarrow as pyarrow

ARROW_TYPES = {
    "string": pyarrow.string(),
    "double": pyarrow.float64(),
    "int": pyarrow.int64(),
    "bool": pyarrow.bool_(),
    "timestamp": pyarrow.timestamp("us", tz="UTC"),
}
PANDAS_DTYPES = {
    "string": "object",
    "double": "float64",
    "int": "int64",
    "bool": "bool",
    "timestamp": "datetime64[us, UTC]",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    description: str
    nullable: bool = False
    unique: bool = False
    checks: tuple[pa.Check, ...] = ()
    rule: str = ""  # the contract's rule in words, shown in the UI


@dataclass(frozen=True)
class Contract:
    source: str
    asset_name: str
    description: str
    columns: tuple[Column, ...]
    time_column: str | None = None
    key: tuple[str, ...] = field(default_factory=tuple)

    @property
    def arrow_schema(self) -> pyarrow.Schema:
        return pyarrow.schema([(c.name, ARROW_TYPES[c.kind]) for c in self.columns])

    @property
    def pandera_schema(self) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(
            {
                c.name: pa.Column(
                    PANDAS_DTYPES[c.kind],
                    checks=list(c.checks),
                    nullable=c.nullable,
                    unique=c.unique,
                    description=c.description,
                )
                for c in self.columns
            },
            strict=True,
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


def _range(lo: float, hi: float, *, hi_inclusive: bool = True) -> tuple[pa.Check, ...]:
    return (pa.Check.in_range(lo, hi, include_max=hi_inclusive),)


def _one_of(*values: str) -> tuple[pa.Check, ...]:
    return (pa.Check.isin(list(values)),)


def _on_the_hour() -> pa.Check:
    return pa.Check(
        lambda s: (s.dt.minute == 0) & (s.dt.second == 0) & (s.dt.microsecond == 0),
        element_wise=False,
        name="on_the_hour",
        error="timestamp on the hour",
    )


STATUSES = ("delivered", "cancelled", "failed")
CONDITIONS = ("clear", "cloudy", "rain", "snow", "fog", "storm")
DOCK_TYPES = ("ground", "dock", "liftgate")

GPS = Contract(
    source="gps",
    asset_name="raw_gps_telemetry",
    description="One row per telemetry ping of a vehicle.",
    time_column="event_ts",
    key=("vehicle_id", "event_ts"),
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
    source="deliveries",
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
        Column("stop_sequence", "int", "Position on the route.", checks=(pa.Check.ge(1),), rule=">= 1"),
        Column(
            "planned_distance_km", "double", "Planned leg distance.",
            checks=(pa.Check.gt(0),), rule="> 0",
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
    source="weather",
    asset_name="raw_weather",
    description="Hourly weather observations per region.",
    time_column="observed_ts",
    key=("region", "observed_ts"),
    columns=(
        Column("region", "string", "Operating region."),
        Column("observed_ts", "timestamp", "Observation hour (UTC).", checks=(_on_the_hour(),),
               rule="on the hour, within the day"),
        Column("temp_c", "double", "Air temperature.", checks=_range(-60, 60), rule="-60..60"),
        Column("precip_mm", "double", "Precipitation in the hour.", checks=(pa.Check.ge(0),), rule=">= 0"),
        Column("wind_kph", "double", "Wind speed.", checks=(pa.Check.ge(0),), rule=">= 0"),
        Column("visibility_km", "double", "Visibility.", checks=(pa.Check.ge(0),), rule=">= 0"),
        Column("condition", "string", "Sky condition.", checks=_one_of(*CONDITIONS),
               rule="one of " + ", ".join(CONDITIONS)),
    ),
)

TRAFFIC = Contract(
    source="traffic",
    asset_name="raw_traffic",
    description="Hourly congestion per region.",
    time_column="observed_ts",
    key=("region", "observed_ts"),
    columns=(
        Column("region", "string", "Operating region."),
        Column("observed_ts", "timestamp", "Observation hour (UTC).", checks=(_on_the_hour(),),
               rule="on the hour, within the day"),
        Column("congestion_index", "double", "0 free flow, 1 gridlock.", checks=_range(0, 1), rule="0..1"),
        Column("incident_count", "int", "Incidents reported in the hour.", checks=(pa.Check.ge(0),), rule=">= 0"),
    ),
)

CUSTOMERS = Contract(
    source="customers",
    asset_name="raw_customers",
    description="Full snapshot of the customer dimension as of that day.",
    key=("customer_id",),
    columns=(
        Column("customer_id", "string", "Customer id.", unique=True, rule="unique"),
        Column("region", "string", "Region of the customer's site."),
        Column("dock_type", "string", "How goods are unloaded.", checks=_one_of(*DOCK_TYPES),
               rule="one of " + ", ".join(DOCK_TYPES)),
        Column("requires_appointment", "bool", "Deliveries need a booked slot."),
        Column("avg_unload_min", "double", "Usual unloading time.", checks=(pa.Check.ge(0),), rule=">= 0"),
    ),
)

SOURCES: dict[str, Contract] = {c.source: c for c in (GPS, DELIVERIES, WEATHER, TRAFFIC, CUSTOMERS)}
