"""The Kubernetes profile, without a cluster.

The Job that `k8s_job_executor` would submit for a step is built here from deploy/k8s/values.yaml
with dagster-k8s' own builders, in the executor's merge order (`K8sStepHandler.launch_step`): the
code location's settings, which the chart hands to every run and step of the user deployment
(includeConfigInLaunchedRuns), under the step's `dagster-k8s/config` tag. The Kubernetes client's
models then read it back. The chart's instance settings are held equal to dagster.yaml, and the
code server's command to the Dockerfile's, so that neither side can drift alone.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import dagster as dg
import kubernetes
import pytest
import yaml
from dagster_k8s import DagsterK8sJobConfig, K8sRunLauncher, construct_dagster_k8s_job, k8s_job_executor
from dagster_k8s.job import get_k8s_job_name, get_user_defined_k8s_config
from kubernetes.utils import parse_quantity

from meridian_assets import definitions
from spark_jobs.session import SPARK_DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
VALUES = yaml.safe_load((ROOT / "deploy" / "k8s" / "values.yaml").read_text())
(DEPLOYMENT,) = VALUES["dagster-user-deployments"]["deployments"]
# Set in the test's environment: none may reach a Job, where anyone who can read Jobs would see it.
SECRETS = {
    "MERIDIAN_ALERT_WEBHOOK": "https://hooks.example/SECRET-abc",
    "AWS_ACCESS_KEY_ID": "SECRET-key-id",
    "AWS_SECRET_ACCESS_KEY": "SECRET-xyz",
    "DAGSTER_PG_PASSWORD": "SECRET-pg",
}
SPARK_STEP, OTHER_STEP = "gps_features", "raw_gps_telemetry"
# What a Spark step's pod holds beside the driver heap (docs/BENCHMARKS.md): the JVM's RSS reached
# 3.6 GiB with the 3g heap, and the step's Python process about 1 GiB.
JVM_BEYOND_HEAP = 0.6 * 2**30
PYTHON = 2**30


@pytest.fixture
def k8s_defs(monkeypatch) -> dg.Definitions:
    """The location as the chart's pods load it: the values' environment, the Secrets' values."""
    for env in DEPLOYMENT["env"]:
        monkeypatch.setenv(env["name"], env["value"])
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return definitions.defs()


def step_job(op_tags: dict[str, str], step_key: str) -> kubernetes.client.V1Job:
    """The Job `k8s_job_executor` submits for one step: the image it was loaded from (the chart's
    DAGSTER_CURRENT_IMAGE), the user deployment's env, Secrets, volumes and size, the Postgres
    password Secret of the run launcher, then the step's own `dagster-k8s/config` tag over them."""
    image = DEPLOYMENT["image"]
    location = DagsterK8sJobConfig(
        job_image=f"{image['repository']}:{image['tag']}",
        image_pull_policy=image["pullPolicy"],
        postgres_password_secret=VALUES["global"]["postgresqlSecretName"],
        env_secrets=[secret["name"] for secret in DEPLOYMENT["envSecrets"]],
        env_vars=[f"{env['name']}={env['value']}" for env in DEPLOYMENT["env"]],
        volumes=DEPLOYMENT["volumes"],
        volume_mounts=DEPLOYMENT["volumeMounts"],
        resources=DEPLOYMENT["resources"],
    )
    return construct_dagster_k8s_job(
        job_config=location,
        # The executor's arguments carry the serialized step; they name no setting checked here.
        args=["dagster", "api", "execute_step"],
        job_name=f"dagster-step-{get_k8s_job_name('a-run-id', step_key)}",
        component="step_worker",
        user_defined_k8s_config=get_user_defined_k8s_config(op_tags),
        labels={"dagster/op": step_key},
        env_vars=[{"name": "DAGSTER_RUN_STEP_KEY", "value": step_key}],
    )


def submitted(job: kubernetes.client.V1Job) -> tuple[str, kubernetes.client.V1Job]:
    """The Job as the API server receives it (JSON), and that JSON read back into the client's
    models: a field the models do not know, or of the wrong type, fails here."""
    api = kubernetes.client.ApiClient()
    body = json.dumps(api.sanitize_for_serialization(job))

    class Response:
        data = body

    return body, api.deserialize(Response(), "V1Job")


def tags_of(defs: dg.Definitions, asset: str) -> dict[str, str]:
    return dict(defs.resolve_assets_def(asset).op.tags)


def test_the_environment_chooses_the_kubernetes_executor(k8s_defs, monkeypatch):
    assert k8s_defs.executor is k8s_job_executor
    monkeypatch.setenv("MERIDIAN_EXECUTOR", "kubernetes")  # a typo must not fall back quietly
    with pytest.raises(ValueError, match="MERIDIAN_EXECUTOR"):
        definitions.defs()


def test_a_spark_step_job_is_the_values_image_sized_by_its_tag_with_secrets_by_reference(k8s_defs):
    op_tags = tags_of(k8s_defs, SPARK_STEP)
    body, job = submitted(step_job(op_tags, SPARK_STEP))
    (container,) = job.spec.template.spec.containers

    assert container.image == f"{DEPLOYMENT['image']['repository']}:{DEPLOYMENT['image']['tag']}"
    declared = json.loads(op_tags["dagster-k8s/config"])["container_config"]["resources"]
    assert declared != DEPLOYMENT["resources"]  # so the equality below shows the tag won
    assert {"requests": container.resources.requests, "limits": container.resources.limits} == declared

    env = {e.name: e for e in container.env}
    assert {e["name"]: e["value"] for e in DEPLOYMENT["env"]}.items() <= {n: e.value for n, e in env.items()}.items()
    assert env["DAGSTER_PG_PASSWORD"].value is None
    assert env["DAGSTER_PG_PASSWORD"].value_from.secret_key_ref.name == VALUES["global"]["postgresqlSecretName"]
    assert [e.secret_ref.name for e in container.env_from if e.secret_ref] == [
        s["name"] for s in DEPLOYMENT["envSecrets"]]
    # The lake is the bucket; the step computes on a working copy on its pod's own disk.
    assert env["MERIDIAN_LAKE"].value.startswith("s3://")
    (mount,) = container.volume_mounts
    (volume,) = job.spec.template.spec.volumes
    assert mount.mount_path == env["MERIDIAN_LAKE_WORKING_COPY"].value and mount.name == volume.name
    assert volume.empty_dir.size_limit

    for name, value in SECRETS.items():
        assert value not in body, f"{name}'s value is written in the Job"
    assert set(env) & set(SECRETS) == {"DAGSTER_PG_PASSWORD"}


def test_other_steps_keep_the_deployments_size(k8s_defs):
    _, job = submitted(step_job(tags_of(k8s_defs, OTHER_STEP), OTHER_STEP))
    (container,) = job.spec.template.spec.containers
    assert {"requests": container.resources.requests, "limits": container.resources.limits} == DEPLOYMENT["resources"]


def test_every_spark_step_and_only_they_carry_the_pod_size(k8s_defs):
    graph = k8s_defs.resolve_asset_graph()
    sized = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_materializable:
            sized[key.to_user_string()] = ("spark" in node.kinds, "dagster-k8s/config" in tags_of(k8s_defs, key))
    assert sized and all(spark == tagged for spark, tagged in sized.values()), sized
    assert sum(spark for spark, _ in sized.values()) == 5


def test_a_spark_pod_holds_the_driver_heap_the_jvm_and_python(k8s_defs):
    resources = json.loads(tags_of(k8s_defs, SPARK_STEP)["dagster-k8s/config"])["container_config"]["resources"]
    heap = SPARK_DEFAULTS["spark.driver.memory"]
    heap_bytes = int(heap[:-1]) * {"m": 2**20, "g": 2**30}[heap[-1]]  # the JVM's binary units
    assert parse_quantity(resources["limits"]["memory"]) >= heap_bytes + JVM_BEYOND_HEAP + PYTHON
    assert resources["requests"] == resources["limits"]


def chart_instance(values: dict) -> dict:
    """The dagster.yaml sections the chart renders from these values (its configmap-instance
    template), in dagster.yaml's own keys."""
    daemon, concurrency = values["dagsterDaemon"], values["concurrency"]
    assert daemon["enabled"] and daemon["runCoordinator"]["enabled"] and concurrency["enabled"]
    monitoring, retries = daemon["runMonitoring"], daemon["runRetries"]
    runs, pools = concurrency["runs"], concurrency["pools"]
    return {
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": daemon["runCoordinator"]["type"]},
        "concurrency": {
            "runs": {"max_concurrent_runs": runs["maxConcurrentRuns"],
                     "tag_concurrency_limits": runs["tagConcurrencyLimits"]},
            "pools": {"default_limit": pools["defaultLimit"], "granularity": pools["granularity"]},
        },
        "run_monitoring": {"enabled": monitoring["enabled"], "max_runtime_seconds": monitoring["maxRuntimeSeconds"]},
        "run_retries": {"enabled": retries["enabled"], "max_retries": retries["maxRetries"],
                        "retry_on_asset_or_op_failure": retries["retryOnAssetOrOpFailure"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }


def test_the_chart_configures_the_instance_as_dagster_yaml_does():
    assert VALUES["runLauncher"]["type"] == K8sRunLauncher.__name__
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    # `nux` (the first-visit "Join the community" dialog of `make dev`) has no value in the chart.
    assert local.pop("nux") == {"enabled": False}
    assert chart_instance(VALUES) == local


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
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert DEPLOYMENT["codeServerArgs"] == ["-m", module]
    port = DEPLOYMENT["port"]
    # What the chart runs for codeServerArgs (dagster-user-deployments' deployment template).
    chart_command = ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", str(port), *DEPLOYMENT["codeServerArgs"]]
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    (cmd,) = [json.loads(line.removeprefix("CMD ")) for line in lines if line.startswith("CMD ")]
    (expose,) = [line.removeprefix("EXPOSE ") for line in lines if line.startswith("EXPOSE ")]
    assert cmd == chart_command
    assert expose == str(port)
