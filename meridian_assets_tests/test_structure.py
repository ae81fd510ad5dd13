"""The shape of the code: imports point one way, and each window is declared once.

The import graph is read from the source (module-level and function-level imports alike),
so a circle hidden inside a function fails here too.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from meridian_assets.contracts import FEATURES, SOURCES
from meridian_assets.defs.features.assets import GROUPS
from meridian_assets.defs.ml import assets as ml_assets
from meridian_assets.defs.ml_table.assets import GPS_WINDOW, UPSTREAM_MAPPINGS, dbt_environment
from meridian_assets.lake import Lake
from meridian_assets.partitions import daily_partitions, mapping, training_window_and_holdout
from spark_jobs.layout import TRAINING_WINDOW_AND_HOLDOUT
from spark_jobs.tables import RAW_SCHEMAS

ROOT = Path(__file__).resolve().parents[1]
DAY = "2026-11-10"
PACKAGES = ("meridian_assets", "spark_jobs")
# Imported by the stages; they import no stage (meridian_assets.defs.*) themselves.
SHARED = {"meridian_assets.partitions", "meridian_assets.contracts", "meridian_assets.lake",
          "meridian_assets.quality", "meridian_assets.guard", "meridian_assets.thresholds",
          "meridian_assets.dbt_project", "meridian_assets.synthetic", "meridian_assets.lineage",
          "meridian_assets.dagster_private"}
# The entry points that assemble or drive the location.
ENTRY_POINTS = {"meridian_assets.definitions", "meridian_assets.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` imports a.b, and a.b.c when c is a module.
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    modules = {module_name(p): p for p in paths}
    return {name: {i for i in imports_of(path) if i in modules and i != name} for name, path in modules.items()}


def test_no_import_circle():
    graph = import_graph()
    visiting, done = [], set()

    def visit(module):
        if module in done:
            return
        assert module not in visiting, "import circle: " + " -> ".join([*visiting[visiting.index(module):], module])
        visiting.append(module)
        for imported in graph[module]:
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in graph:
        visit(module)


def test_imports_point_one_way():
    graph = import_graph()
    for module, imported in graph.items():
        stages = {i for i in imported if i.startswith("meridian_assets.defs.")}
        if module in SHARED:
            assert not stages, f"{module} (shared) imports the stage or resource modules {stages}"
        if module.startswith("meridian_assets.defs.") and module != "meridian_assets.defs.resources":
            stage = module.split(".")[2]
            others = {i for i in stages if i.split(".")[2] not in (stage, "resources")}
            assert not others, f"{module} imports another stage's modules {others}"
        if module not in ENTRY_POINTS:
            assert not imported & ENTRY_POINTS, f"{module} imports an entry point {imported & ENTRY_POINTS}"


@pytest.mark.parametrize("module", ["spark_jobs.layout", "spark_jobs.swap"])
def test_layout_and_swap_need_only_the_standard_library(module):
    path = ROOT / (module.replace(".", "/") + ".py")
    outside = {i.split(".")[0] for i in imports_of(path)} - set(sys.stdlib_module_names) - {"__future__"}
    assert not outside, f"{module} imports {outside}"


def test_spark_jobs_run_alone():
    for path in (ROOT / "spark_jobs").rglob("*.py"):
        roots = {i.split(".")[0] for i in imports_of(path)}
        assert not roots & {"dagster", "meridian_assets"}, path


def mapped_days(partition_mapping, day: str) -> list[str]:
    """The upstream days Dagster's mapping gives for partition `day`."""
    if partition_mapping is None:
        return [day]
    result = partition_mapping.get_upstream_mapped_partitions_result_for_partitions(
        downstream_partitions_subset=daily_partitions.empty_subset().with_partition_keys([day]),
        downstream_partitions_def=daily_partitions, upstream_partitions_def=daily_partitions,
    )
    return sorted(result.partitions_subset.get_partition_keys())


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g.name)
def test_each_job_reads_the_days_its_mapping_declares(group, spark, tmp_path, monkeypatch):
    """Run the job on an empty lake and record what it reads: the days of its declared mappings."""
    read = {}
    real_read_raw = group.job.read_raw

    def recording_read_raw(spark, lake, source, days):
        read[SOURCES[source].asset_name] = sorted(days)
        return real_read_raw(spark, lake, source, days)

    monkeypatch.setattr(group.job, "read_raw", recording_read_raw)
    group.job.run(spark, tmp_path, DAY, DAY)
    assert read == {dep.asset_key.to_user_string(): mapped_days(dep.partition_mapping, DAY) for dep in group.deps}


def test_training_reads_the_days_its_mapping_declares(tmp_path, monkeypatch):
    read = []
    monkeypatch.setattr(ml_assets, "existing_partitions", lambda lake, table, days: read.extend(days) or [])
    ml_assets.read_ml_days(Lake(root=str(tmp_path)), DAY)
    assert read == mapped_days(training_window_and_holdout, DAY)


def test_each_window_is_declared_once():
    """The partition mappings Dagster sees are the windows the jobs, checks and dbt read."""
    for group in GROUPS:
        deps = {dep.asset_key.to_user_string(): dep.partition_mapping for dep in group.deps}
        assert len(deps) == len(group.job.INPUTS), group.name
        for window in group.job.INPUTS.values():
            assert mapping(window) in deps.values(), (group.name, window)
    assert training_window_and_holdout == mapping(TRAINING_WINDOW_AND_HOLDOUT)
    assert list(UPSTREAM_MAPPINGS.values()) == [mapping(GPS_WINDOW)]
    assert GPS_WINDOW.start_offset == GPS_WINDOW.end_offset  # dbt joins one earlier day
    assert dbt_environment("2026-11-02", "2026-11-02", Path("lake"), Path("out"))["MERIDIAN_DBT_GPS_DAY_OFFSET"] == str(
        GPS_WINDOW.end_offset)
    # dbt's own default (a build without Dagster) is the same day.
    project = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["gps_day_offset"] == GPS_WINDOW.end_offset


SPARK_KINDS = {"StringType()": "string", "DoubleType()": "double", "LongType()": "int", "IntegerType()": "int",
               "BooleanType()": "bool", "TimestampType()": "timestamp"}
DUCKDB_KINDS = {"varchar": "string", "double": "double", "bigint": "int", "integer": "int", "boolean": "bool"}
STAGING = ROOT / "dbt_project" / "macros" / "staging.sql"


def staging_columns() -> dict[str, dict[str, str]]:
    """Per staging macro of the dbt project, the columns it casts and their kinds."""
    found = {}
    for name, body in re.findall(r"{% macro (stg_\w+)\(\) %}(.*?){% endmacro %}", STAGING.read_text(), re.S):
        casts = {alias: DUCKDB_KINDS.get(kind, kind)
                 for _, kind, alias in re.findall(r"cast\((\w+) as (\w+)\) as (\w+)", body)}
        casts |= {alias: "timestamp" for _, alias in re.findall(r"{{ as_utc\('(\w+)'\) }} as (\w+)", body)}
        casts.pop("date")  # the partition folder's day, not a contract column
        found[name] = casts
    return found


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_spark_reads_each_raw_source_with_the_contract_schema(source):
    spark_view = [(f.name, SPARK_KINDS[repr(f.dataType)]) for f in RAW_SCHEMAS[source].fields]
    assert spark_view == [(c.name, c.kind) for c in SOURCES[source].columns]


def test_dbt_staging_casts_each_column_to_its_contract_kind():
    contracts = {f"stg_{g}_features": c for g, c in FEATURES.items()} | {"stg_deliveries": SOURCES["deliveries"]}
    for macro, casts in staging_columns().items():
        kinds = {c.name: c.kind for c in contracts[macro].columns}
        assert casts.items() <= kinds.items(), (macro, set(casts.items()) - set(kinds.items()))


@pytest.mark.parametrize("contract", [*SOURCES.values(), *FEATURES.values()], ids=lambda c: c.asset_name)
def test_arrow_pandera_and_ui_views_of_each_contract_agree(contract):
    arrow = [(f.name, f.nullable) for f in contract.arrow_schema]
    pandera = [(name, column.nullable) for name, column in contract.pandera_schema.columns.items()]
    ui = [(c.name, c.constraints.nullable) for c in contract.table_schema.columns]
    declared = [(c.name, c.nullable) for c in contract.columns]
    assert [n for n, _ in arrow] == [n for n, _ in declared] and pandera == ui == declared


def test_every_entry_point_loads_the_same_code_location():
    """`dagster` (workspace.yaml, [tool.dagster]) and `dg` ([tool.dg]) name one module and one name."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    (entry,) = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"]
    module = {project["dagster"]["module_name"], project["dg"]["project"]["code_location_target_module"],
              entry["python_module"]["module_name"]}
    name = {project["dagster"]["code_location_name"], project["dg"]["project"]["code_location_name"],
            entry["python_module"]["location_name"]}
    assert module == {"meridian_assets.definitions"} and len(name) == 1, (module, name)


def test_private_dagster_names_are_imported_in_one_module_only():
    """An upgrade that moves a private name breaks one module, which docs/ARCHITECTURE.md explains."""
    importing = sorted(str(path.relative_to(ROOT)) for package in PACKAGES
                       for path in (ROOT / package).rglob("*.py") if "dagster._" in path.read_text())
    assert importing == ["meridian_assets/dagster_private.py"]
    assert "dagster_private.py" in (ROOT / "docs" / "ARCHITECTURE.md").read_text()


def test_the_code_location_loads_without_its_heavy_libraries():
    """Every run, sensor tick and CLI call loads the location: scikit-learn, scipy and matplotlib
    load in the steps that use them (training, the gate, drift), boto3 only for s3:// locations,
    pandera where a contract is validated; not there."""
    heavy = ("sklearn", "scipy", "matplotlib", "boto3", "botocore", "pandera")
    loaded = subprocess.run(
        [sys.executable, "-c", f"import sys, meridian_assets.definitions; print([m for m in {heavy} if m in sys.modules])"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "[]"
