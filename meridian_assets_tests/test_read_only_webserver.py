"""README's shared deployment: `dagster-webserver --read-only` shows the location but refuses to
launch a run or stop a sensor, whoever asks (the UI's buttons and its GraphQL API alike)."""

from __future__ import annotations

import dagster as dg
from meridian_assets_tests.webui import LOCATION, webserver

REPOSITORY = {"repositoryLocationName": LOCATION, "repositoryName": "__repository__"}
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on UnauthorizedError { message } ... on LaunchRunSuccess { run { runId } } } }"""
STOP_SENSOR = """mutation($selector: SensorSelector!) { resetSensor(sensorSelector: $selector) {
  __typename ... on UnauthorizedError { message } } }"""
SENSOR = """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  ... on Sensor { sensorState { status } } } }"""


def test_a_read_only_webserver_refuses_to_launch_or_toggle(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with webserver(home, {}, tmp_path / "webserver.log", flags=("--read-only",)) as server:
        jobs = server.graphql("""query($selector: RepositorySelector!) { repositoryOrError(repositorySelector: $selector) {
            ... on Repository { jobs { name } } } }""", selector=REPOSITORY)["repositoryOrError"]["jobs"]
        assert "daily_ingest" in {job["name"] for job in jobs}, "the location is shown"

        launched = server.graphql(LAUNCH, params={
            "selector": {**REPOSITORY, "pipelineName": "daily_ingest"},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2026-11-01"}]},
        })["launchRun"]
        assert launched["__typename"] == "UnauthorizedError", launched
        sensor = {**REPOSITORY, "sensorName": "landing_sensor"}
        stopped = server.graphql(STOP_SENSOR, selector=sensor)["resetSensor"]
        assert stopped["__typename"] == "UnauthorizedError", stopped
        assert server.graphql(SENSOR, selector=sensor)["sensorOrError"]["sensorState"]["status"] == "RUNNING"

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs() == [], "nothing was launched"
