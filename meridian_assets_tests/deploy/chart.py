"""What Dagster's Helm chart renders from deploy/k8s/values.yaml, for the parts Dagster reads.

There is no `helm` here, so each function transcribes one template of the chart (1.13.27,
`helm/dagster` in dagster-io/dagster) for the keys these values use. The release is the one of
values.yaml's header, `helm upgrade --install dagster ...`: named `dagster`, in the namespace
`default` (the command names none).
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
VALUES = yaml.safe_load((ROOT / "deploy" / "k8s" / "values.yaml").read_text())
(DEPLOYMENT,) = VALUES["dagster-user-deployments"]["deployments"]
NAMESPACE = "default"
# `dagster.fullname`: the release's name when it holds the chart's, so `dagster` for the chart;
# the dagster-user-deployments sub-chart's name is not in it, so its objects get both.
FULLNAME = "dagster"
USER_DEPLOYMENTS_FULLNAME = "dagster-dagster-user-deployments"
DAGSTER_HOME = "/opt/dagster/dagster_home"  # global.dagsterHome, which these values leave as is


def image(deployment: dict) -> str:
    """`dagster.dagsterImage.name`: the code server's image, also its DAGSTER_CURRENT_IMAGE."""
    return f"{deployment['image']['repository']}:{deployment['image']['tag']}"


def container_context(deployment: dict) -> dict | None:
    """The code server's DAGSTER_CONTAINER_CONTEXT (deployment-user.yaml, through the
    `dagsterUserDeployments.k8sContainerContext` helper), which the code server gives every run
    of its location. None when includeConfigInLaunchedRuns is off: the chart then sets none."""
    if not deployment.get("includeConfigInLaunchedRuns", {"enabled": True})["enabled"]:
        return None
    k8s = {
        "image_pull_policy": deployment["image"]["pullPolicy"],
        # The deployment's env as a ConfigMap when it is a map; these values give a list (`env`).
        "env_config_maps": [f"{USER_DEPLOYMENTS_FULLNAME}-{deployment['name']}-user-env"],
        "env_secrets": [secret["name"] for secret in deployment.get("envSecrets", [])],
        "volume_mounts": deployment.get("volumeMounts"),
        "volumes": deployment.get("volumes"),
        "resources": deployment.get("resources"),
        "namespace": NAMESPACE,
        "service_account_name": f"{USER_DEPLOYMENTS_FULLNAME}-user-deployments",
        "env": deployment.get("env"),
        "run_k8s_config": {"pod_spec_config": {"automount_service_account_token": True}},
    }
    return {"k8s": {key: value for key, value in k8s.items() if value}}  # the template omits empty keys


def run_launcher(values: dict) -> dict:
    """The instance's `run_launcher` for runLauncher.type K8sRunLauncher
    (`dagsterYaml.runLauncher.k8s`), but for the image pull policy: its chart default is replaced
    in every Job by the container context's."""
    return {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": {
            "load_incluster_config": True,  # the chart's default: the daemon and runs are pods
            "job_namespace": NAMESPACE,
            # `dagster.serviceAccountName`: these values name no account. The container context's
            # replaces it in the Jobs of the code location's runs and steps.
            "service_account_name": FULLNAME,
            "dagster_home": DAGSTER_HOME,
            "instance_config_map": f"{FULLNAME}-instance",
            "postgres_password_secret": values["global"]["postgresqlSecretName"],
        },
    }


def instance(values: dict) -> dict:
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
