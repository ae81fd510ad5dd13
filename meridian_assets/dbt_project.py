"""The dbt project, alone in its module so `dagster-dbt project prepare-and-package` can load it."""

import sys
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtCliResource, DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
# The venv's dbt, whether or not the venv is activated (`dg check defs`, `dagster dev` from a shell).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))


class VenvDbtPreparer(DagsterDbtProjectPreparer):
    """Parses the project as dagster-dbt's preparer does, with the venv's dbt rather than PATH's."""

    def prepare(self, project: DbtProject) -> None:
        DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE).cli(
            ["parse", "--quiet"], target_path=project.target_path).wait()


meridian_dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
VenvDbtPreparer().prepare_if_dev(meridian_dbt_project)  # DbtProject.prepare_if_dev, with this dbt
