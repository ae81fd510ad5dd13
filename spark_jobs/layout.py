"""The lake's layout, day arithmetic and the history windows: standard library only.

The Spark jobs and the Dagster package both use it, so computing a partition's path or a
window's days never imports pyspark, and each window is declared here once: `partitions.py`
turns them into Dagster partition mappings, the jobs and checks read exactly their days.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path


def partition_dir(lake: str | os.PathLike, table: str, day: str) -> Path:
    """`{lake}/{table}/date=YYYY-MM-DD`: the one layout every engine reads."""
    return Path(lake) / table / f"date={day}"


def days_between(start: str, end: str) -> list[str]:
    """Inclusive list of ISO days."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def shift_day(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def existing_partitions(lake: str | os.PathLike, table: str, days: Iterable[str]) -> list[Path]:
    """The partition folders of `days` that exist: missing history is normal at the start."""
    return [p for p in (partition_dir(lake, table, d) for d in days) if p.is_dir()]


def has_partition_before(lake: str | os.PathLike, table: str, day: str) -> bool:
    """Whether `table` has any partition before `day`: without one, `day` starts its history
    (nothing earlier can be missing); with one, a missing earlier day is a gap.
    """
    root = Path(lake) / table
    return root.is_dir() and any(p.name < f"date={day}" for p in root.glob("date=*"))


@dataclass(frozen=True)
class Window:
    """The days D+start_offset..D+end_offset (inclusive) that partition D reads of an input."""

    start_offset: int
    end_offset: int

    def days(self, start: str, end: str) -> list[str]:
        """The days the partitions start..end read through this window."""
        return days_between(shift_day(start, self.start_offset), shift_day(end, self.end_offset))


SAME_DAY = Window(0, 0)
PREVIOUS_DAY = Window(-1, -1)
"""D-1 only: a vehicle's GPS behaviour and the customer snapshot known before D's dispatch."""
SAME_AND_PREVIOUS_DAY = Window(-1, 0)
"""D-1..D: hourly lags (previous hours of weather and traffic) that cross midnight."""
DAY_AND_PREVIOUS_28_DAYS = Window(-28, 0)
"""D-28..D: the day's deliveries, with the delays of D-28..D-1 behind them (never D's own)."""
PREVIOUS_7_DAYS = Window(-7, -1)
"""D-7..D-1: the days a day's checks compare it with (raw GPS volume, fleet, hours and copies; drift)."""
PREVIOUS_28_DAYS = Window(-28, -1)
"""D-28..D-1: a customer's record, a vehicle's pace, a region's delays by hour."""
TRAINING_WINDOW_AND_HOLDOUT = Window(-28, 0)
"""D-28..D: the model trains on D-28..D-1 and is evaluated on D's deliveries."""
