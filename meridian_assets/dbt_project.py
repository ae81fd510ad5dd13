"""The dbt project, alone in its module so `dagster-dbt project prepare-and-package` can load it."""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"

meridian_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
meridian_dbt_project.prepare_if_dev()
