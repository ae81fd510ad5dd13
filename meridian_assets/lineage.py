"""What a partition reads, and what reads it: the asset graph's own partition mappings.

Everything that judges, triggers or alerts across days asks here, so the guard, automation, the
nightly schedule, `meridian launch`, the alerts' "waiting" lists and a failed check's `Blocks:`
follow the days each asset really reads. An asset may read earlier days of an input that it
leaves out when they are unfit (the model's training window): it says so in its metadata
(`LEAVES_OUT_UNFIT`), and only its own day of that input is then a day it needs.
"""

from collections.abc import Iterable

import dagster as dg

# Asset metadata: the parent whose earlier days the asset leaves out when unfit, naming why.
LEAVES_OUT_UNFIT = "meridian/leaves_out_unfit_days_of"


def _materializable(graph, key: dg.AssetKey) -> bool:
    """The landing drops upstream are written by vendors, never here: no partition to judge."""
    return graph.has(key) and graph.get(key).is_materializable


def reads(graph, key: dg.AssetKey, day: str) -> dict[dg.AssetKey, list[str]]:
    """The days of each materializable parent that partition `day` of `key` reads, through the
    partition mapping Dagster holds for that edge (days before the partitions' start left out)."""
    return {
        parent: sorted(graph.get_parent_partition_keys_for_child(day, parent, key).partitions_subset.get_partition_keys())
        for parent in sorted(graph.get(key).parent_keys, key=lambda k: k.to_user_string())
        if _materializable(graph, parent)
    }


def _tolerated(graph, key: dg.AssetKey) -> dg.AssetKey | None:
    value = graph.get(key).metadata.get(LEAVES_OUT_UNFIT)
    return dg.AssetKey.from_user_string(getattr(value, "value", value)) if value else None


def needs(graph, key: dg.AssetKey, day: str) -> dict[dg.AssetKey, list[str]]:
    """What must be fit for partition `day` of `key` to be built and used: what it reads, but
    of a parent whose unfit days it leaves out, only its own day."""
    tolerated = _tolerated(graph, key)
    return {parent: [d for d in days if parent != tolerated or d == day] for parent, days in reads(graph, key, day).items()}


def held_downstream(graph, keys: Iterable[dg.AssetKey], days: Iterable[str]) -> dict[dg.AssetKey, list[str]]:
    """The partitions that need `days` of `keys`, directly or further down (`needs`), in lineage
    order: what an unfit day holds. Only days that exist now (a later day is not there to wait)."""
    frontier = [(key, day) for key in keys if graph.has(key) for day in days]
    reached: dict[dg.AssetKey, set[str]] = {}
    while frontier:
        key, day = frontier.pop()
        for child in graph.get(key).child_keys:
            tolerated = _tolerated(graph, child) == key
            for child_day in graph.get_child_partition_keys_of_parent(day, key, child):
                if (tolerated and child_day != day) or child_day in reached.setdefault(child, set()):
                    continue
                reached[child].add(child_day)
                frontier.append((child, child_day))
    return {key: sorted(reached[key]) for key in graph.toposorted_asset_keys if reached.get(key)}
