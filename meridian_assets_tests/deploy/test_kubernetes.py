"""The Kubernetes profile, without a cluster.

The step Jobs checked here are the ones dagster-k8s' `k8s_job_executor` builds and sends during a
run of the code location, executed in this process as a run's pod executes it.
- Real code: the location, loaded in the chart's environment (its MERIDIAN_EXECUTOR=k8s picks the
  executor); `dg.execute_job` of the stage job that holds the step; the executor
  (`K8sStepHandler.launch_step` merges the run's container context, the instance's K8sRunLauncher
  and the step's `dagster-k8s/config` tag, then `construct_dagster_k8s_job`); and the Kubernetes
  client, which serialises the Job and POSTs it over HTTP.
- Written by hand from the Helm chart's templates (chart.py; there is no `helm` here): the code
  server's image and container context, and the instance's run launcher. The code server puts the
  first two in the code origin of every run; here the run's origin is built with them. The
  instance is a SQLite test instance with the chart's run launcher.
- In place of the cluster: in a pod, `kubernetes.config.load_incluster_config` reads the API
  server's address and token; here it points the client at a local HTTP server. That server keeps
  each Job it is sent and refuses it (403, what RBAC answers), so the run fails at once instead of
  waiting for a pod that will never report.

The chart's instance settings are held equal to dagster.yaml, and the code server's command to
the Dockerfile's, so that neither side can drift alone.
"""

from __future__ import annotations

import base64
import json
import threading
import tomllib
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

import dagster as dg
import kubernetes
import pytest
import yaml

# The class the code server loads the location into (dagster/_grpc/server.py, LoadedRepositories),
# with its DAGSTER_CURRENT_IMAGE and DAGSTER_CONTAINER_CONTEXT; a run's code origin comes from it.
# Dagster has no public way to give a reconstructable job that image and context.
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster_k8s import K8sRunLauncher, k8s_job_executor
from kubernetes.utils import parse_quantity

from meridian_assets import definitions
from meridian_assets_tests.deploy import chart
from meridian_assets_tests.deploy.chart import DEPLOYMENT, ROOT, VALUES
from spark_jobs.session import SPARK_DEFAULTS

MODULE = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
# Set in the test's environment: none may reach a Job, where anyone who can read Jobs would see it.
SECRETS = {
    "MERIDIAN_ALERT_WEBHOOK": "https://hooks.example/SECRET-abc",
    "AWS_ACCESS_KEY_ID": "SECRET-key-id",
    "AWS_SECRET_ACCESS_KEY": "SECRET-xyz",
    "DAGSTER_PG_PASSWORD": "SECRET-pg",
}
SPARK_STEP, OTHER_STEP = "gps_features", "raw_gps_telemetry"
# Each step alone, in a run of the stage job `meridian launch` runs it in, on any day.
RUNS = {SPARK_STEP: "daily_features", OTHER_STEP: "daily_ingest"}
DAY = "2024-03-04"
# What a Spark step's pod holds beside the driver heap (docs/BENCHMARKS.md): the JVM's RSS reached
# 3.6 GiB with the 3g heap, and the step's Python process about 1 GiB.
JVM_BEYOND_HEAP = 0.6 * 2**30
PYTHON = 2**30


class Sent(NamedTuple):
    """A Job as the executor sent it: where, the JSON the API server received, that JSON read back
    into the Kubernetes client's models."""

    path: str
    body: str
    job: kubernetes.client.V1Job


@contextmanager
def refusing_api_server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A local HTTP server in place of the cluster's API server, and what was POSTed to it.

    It refuses every Job (403 Forbidden); to the executor's clean-up that follows (list the Job's
    pods, delete the Job) it answers 404 Not Found: nothing was created."""
    received: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def answer(self, code: int) -> None:
            status = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(status)))
            self.end_headers()
            self.wfile.write(status)

        def do_POST(self) -> None:
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"])).decode()))
            self.answer(403)

        def do_GET(self) -> None:
            self.answer(404)

        do_DELETE = do_GET

        def log_message(self, *args) -> None:
            """No access log on the test's output."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def read_back(body: str) -> kubernetes.client.V1Job:
    class Response:
        data = body

    return kubernetes.client.ApiClient().deserialize(Response(), "V1Job")


@pytest.fixture(scope="module")
def chart_env() -> Iterator[None]:
    """The environment of the chart's pods: the values' env, and the Secrets' values (envFrom)."""
    with pytest.MonkeyPatch.context() as patch:
        for env in DEPLOYMENT["env"]:
            patch.setenv(env["name"], env["value"])
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def k8s_defs(chart_env) -> dg.Definitions:
    return definitions.defs()


@pytest.fixture(scope="module")
def sent(chart_env) -> dict[str, Sent]:
    """Each step's Job, as `k8s_job_executor` sent it in a run of that step alone."""
    # The location as the chart's code server (`dagster code-server start -m MODULE`) holds it,
    # with its DAGSTER_CURRENT_IMAGE and DAGSTER_CONTAINER_CONTEXT: each run's code origin.
    location = ReconstructableRepository.for_module(
        MODULE, "defs", str(ROOT),
        container_image=chart.image(DEPLOYMENT), container_context=chart.container_context(DEPLOYMENT),
    )
    default = kubernetes.client.Configuration.get_default_copy()
    with refusing_api_server() as (address, received), pytest.MonkeyPatch.context() as patch:
        def load_incluster_config() -> None:
            """In a pod: the API server's address and the pod's service account token. Here: the
            stand-in's address."""
            kubernetes.client.Configuration.set_default(kubernetes.client.Configuration(host=address))

        patch.setattr(kubernetes.config, "load_incluster_config", load_incluster_config)
        try:
            with dg.instance_for_test(overrides={"run_launcher": chart.run_launcher(VALUES)}) as instance:
                jobs = {}
                for step, job in RUNS.items():
                    dg.execute_job(location.get_reconstructable_job(job), instance, asset_selection=[dg.AssetKey(step)],
                                   tags={"dagster/partition": DAY}, raise_on_error=False)
                    ((path, body),) = received  # the run's one step, in one Job
                    received.clear()
                    jobs[step] = Sent(path, body, read_back(body))
        finally:
            kubernetes.client.Configuration.set_default(default)
    return jobs


def container_of(sent: Sent) -> kubernetes.client.V1Container:
    (container,) = sent.job.spec.template.spec.containers
    return container


def step_args(container: kubernetes.client.V1Container) -> str:
    """What the step's pod is told to run: DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS, zlib then base64."""
    (value,) = [e.value for e in container.env if e.name == "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"]
    return zlib.decompress(base64.b64decode(value)).decode()


def tags_of(defs: dg.Definitions, asset: str) -> dict[str, str]:
    return dict(defs.resolve_assets_def(asset).op.tags)


def test_the_environment_chooses_the_kubernetes_executor(k8s_defs, monkeypatch):
    assert k8s_defs.executor is k8s_job_executor
    monkeypatch.setenv("MERIDIAN_EXECUTOR", "kubernetes")  # a typo must not fall back quietly
    with pytest.raises(ValueError, match="MERIDIAN_EXECUTOR"):
        definitions.defs()


def test_a_spark_step_job_is_the_values_image_sized_by_its_tag(k8s_defs, sent):
    spark = sent[SPARK_STEP]
    container = container_of(spark)
    assert spark.path == f"/apis/batch/v1/namespaces/{chart.NAMESPACE}/jobs"
    assert container.image == f"{DEPLOYMENT['image']['repository']}:{DEPLOYMENT['image']['tag']}"
    assert container.image_pull_policy == DEPLOYMENT["image"]["pullPolicy"]
    declared = json.loads(tags_of(k8s_defs, SPARK_STEP)["dagster-k8s/config"])["container_config"]["resources"]
    assert declared != DEPLOYMENT["resources"]  # so the equality below shows the tag won
    assert {"requests": container.resources.requests, "limits": container.resources.limits} == declared


def test_other_steps_keep_the_deployments_size(sent):
    container = container_of(sent[OTHER_STEP])
    assert {"requests": container.resources.requests, "limits": container.resources.limits} == DEPLOYMENT["resources"]


@pytest.mark.parametrize("step", [SPARK_STEP, OTHER_STEP])
def test_a_step_job_has_the_deployments_env_its_secrets_by_reference_and_the_working_copy(sent, step):
    job = sent[step].job
    container = container_of(sent[step])
    env = {e.name: e for e in container.env}
    assert {e["name"]: e["value"] for e in DEPLOYMENT["env"]}.items() <= {n: e.value for n, e in env.items()}.items()
    assert env["DAGSTER_PG_PASSWORD"].value is None
    assert env["DAGSTER_PG_PASSWORD"].value_from.secret_key_ref.name == VALUES["global"]["postgresqlSecretName"]
    assert [e.secret_ref.name for e in container.env_from if e.secret_ref] == [
        s["name"] for s in DEPLOYMENT["envSecrets"]]
    assert set(env) & set(SECRETS) == {"DAGSTER_PG_PASSWORD"}
    # The lake is the bucket; the step computes on a working copy on its pod's own disk.
    assert env["MERIDIAN_LAKE"].value.startswith("s3://")
    (mount,) = container.volume_mounts
    (volume,) = job.spec.template.spec.volumes
    assert mount.mount_path == env["MERIDIAN_LAKE_WORKING_COPY"].value and mount.name == volume.name
    assert volume.empty_dir.size_limit


@pytest.mark.parametrize("step", [SPARK_STEP, OTHER_STEP])
def test_no_secret_value_is_in_a_step_job(sent, step):
    args = step_args(container_of(sent[step]))
    assert MODULE in args  # the pod loads the module the code server serves
    for name, value in SECRETS.items():
        assert value not in sent[step].body, f"{name}'s value is written in the Job"
        assert value not in args, f"{name}'s value is written in the step's arguments"


def test_a_spark_pod_holds_the_driver_heap_the_jvm_and_python(sent):
    resources = container_of(sent[SPARK_STEP]).resources
    heap = SPARK_DEFAULTS["spark.driver.memory"]
    heap_bytes = int(heap[:-1]) * {"m": 2**20, "g": 2**30}[heap[-1]]  # the JVM's binary units
    assert parse_quantity(resources.limits["memory"]) >= heap_bytes + JVM_BEYOND_HEAP + PYTHON
    assert resources.requests == resources.limits


def test_every_spark_step_and_only_they_carry_the_pod_size(k8s_defs):
    graph = k8s_defs.resolve_asset_graph()
    sized = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            sized[key.to_user_string()] = ("spark" in node.kinds, "dagster-k8s/config" in tags_of(k8s_defs, key))
    assert sized and all(spark == tagged for spark, tagged in sized.values()), sized
    assert sum(spark for spark, _ in sized.values()) == 5


def test_the_chart_configures_the_instance_as_dagster_yaml_does():
    assert VALUES["runLauncher"]["type"] == K8sRunLauncher.__name__
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    # `nux` (the first-visit "Join the community" dialog of `make dev`) has no value in the chart.
    assert local.pop("nux") == {"enabled": False}
    assert chart.instance(VALUES) == local


def test_postgres_is_external_and_its_password_only_in_a_secret():
    assert VALUES["postgresql"]["enabled"] is False
    assert VALUES["generatePostgresqlPasswordSecret"] is False
    assert "postgresqlPassword" not in VALUES["postgresql"]


def test_the_example_secrets_are_the_ones_the_values_name_with_placeholders():
    secrets = {s["metadata"]["name"]: s["stringData"]
               for s in yaml.safe_load_all((ROOT / "deploy" / "k8s" / "secrets.example.yaml").read_text())}
    assert set(secrets) == {VALUES["global"]["postgresqlSecretName"], *(s["name"] for s in DEPLOYMENT["envSecrets"])}
    keys = {key for data in secrets.values() for key in data}
    assert keys == {"postgresql-password", *SECRETS} - {"DAGSTER_PG_PASSWORD"}
    assert all(value.startswith("<PLACEHOLDER") for data in secrets.values() for value in data.values())


def test_the_code_server_serves_the_projects_module_as_the_dockerfile_starts_it():
    assert DEPLOYMENT["codeServerArgs"] == ["-m", MODULE]
    port = DEPLOYMENT["port"]
    # What the chart runs for codeServerArgs (dagster-user-deployments' deployment template).
    chart_command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(port), *DEPLOYMENT["codeServerArgs"]]
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    (cmd,) = [json.loads(line.removeprefix("CMD ")) for line in lines if line.startswith("CMD ")]
    (expose,) = [line.removeprefix("EXPOSE ") for line in lines if line.startswith("EXPOSE ")]
    assert cmd == chart_command
    assert expose == str(port)
