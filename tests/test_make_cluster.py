"""`make cluster` comes up ready for every shipped config: the newcomer's path is `make cluster`, then
`launch train configs/smoke.yaml` with the kubeconfig it prints, and the run is found and scheduled."""

import json
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from tests.cluster.objects import CONFIGS
from tests.cluster.wait import until
from tests.factory import run_launch, start_make_cluster

pytestmark = pytest.mark.cluster

SHIPPED = sorted(path.name for path in CONFIGS.glob("*.yaml"))


@pytest.fixture(scope="module")
def make_cluster(tmp_path_factory):
    """`python -m tests.cluster` (what `make cluster` runs) until it says Ctrl-C to stop; its printed lines."""
    kubeconfig = tmp_path_factory.mktemp("make-cluster") / "kubeconfig"
    runner, lines = start_make_cluster(kubeconfig)
    try:
        yield kubeconfig, lines
    finally:
        runner.send_signal(signal.SIGINT)
        try:
            runner.wait(timeout=30)
        finally:
            runner.kill()
            runner.stdout.close()


def launch(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess:
    return run_launch(*args, env={"KUBECONFIG": str(kubeconfig)})


def test_the_training_namespace_is_set_up_as_manifests_says_and_is_the_kubeconfigs_default(make_cluster):
    kubeconfig, lines = make_cluster
    (context,) = yaml.safe_load(kubeconfig.read_text())["contexts"]
    assert context["context"]["namespace"] == "training"
    assert "manifests/ applied: namespace 'training' (the kubeconfig's default), claims bound" in lines
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    labels = core.read_namespace("training").metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    claims = {c.metadata.name: c.status.phase for c in core.list_namespaced_persistent_volume_claim("training").items}
    assert claims == {"checkpoints": "Bound", "datasets": "Bound", "models": "Bound"}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_is_accepted_by_the_server_where_make_cluster_points(make_cluster, name):
    kubeconfig, _ = make_cluster
    result = launch(kubeconfig, "train", f"configs/{name}", "--dry-run", "server")
    assert result.returncode == 0, result.stderr


def test_the_printed_next_step_submits_a_run_that_status_and_list_find_and_that_schedules(make_cluster):
    kubeconfig, lines = make_cluster
    (hint,) = [line for line in lines if line.startswith("next, in another shell:")]
    assert hint.endswith(f"export KUBECONFIG={kubeconfig}; .venv/bin/launch train configs/smoke.yaml")
    submitted = launch(kubeconfig, "train", "configs/smoke.yaml", "-o", "json")
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout)["run_id"]
    listed = json.loads(launch(kubeconfig, "list", "-o", "json").stdout)
    assert [run["run_id"] for run in listed] == [run_id]

    def scheduled():
        status = json.loads(launch(kubeconfig, "status", run_id, "-o", "json").stdout)
        return status["namespace"] == "training" and status["status"] in ("Running", "Succeeded") and status

    until(scheduled, 60, f"run {run_id} scheduled in namespace training")
