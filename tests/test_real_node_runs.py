"""The trainer in real pods: configs/smoke.yaml on the test cluster's real node (containerd + a real kubelet,
tests/cluster/realnode.py), through the product's own commands. What kwok cannot prove: the pod really starts
under the restricted security context, the trainer really runs in it, its termination message is the kubelet's,
and `launch logs` reads what the kubelet serves.

These tests run pods for real: each takes a core for a minute, so they run one at a time (pytest runs tests in
sequence; the `real_node` mark keeps them together under any future parallel runner).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
from kubernetes import client, watch
from kubernetes.utils.create_from_yaml import create_from_yaml_single_item

from tests.cluster.namespaces import RESTRICTED, STORAGE_CLASS, in_namespace, manifest_objects
from tests.cluster.realnode import SELECTOR, TOLERATION
from tests.cluster.wait import exists, until
from tests.factory import run_launch

pytestmark = [pytest.mark.cluster, pytest.mark.real_node]

TRAINER_UID = 1000  # Dockerfile.train's USER, and the render's runAsUser


def on_the_real_node(image: str) -> list[str]:
    """`--set` overrides that put a run on the real node, in its test image: what a user would pass to target a
    node pool of their own."""
    (key, value), = SELECTOR.items()
    toleration = json.dumps({k: TOLERATION[k] for k in ("key", "operator", "value", "effect")})
    return ["--set", f"image={image}", "--set", f"scheduling.node_selector.{key}={value}",
            "--set", f"scheduling.tolerations=[{toleration}]"]


@pytest.fixture
def real_namespace(kube, namespace_name, smoke_volumes, tmp_path) -> str:
    """A restricted namespace like `training`, its claims bound to folders of this machine (hostPath volumes,
    which the kubelet really mounts): smoke.yaml's data and model, and an empty checkpoint folder owned by the
    trainer's UID (hostPath has no fsGroup ownership management: a cluster's storage must allow the write)."""
    core = kube.core
    core.create_namespace({"metadata": {"name": namespace_name, "labels": RESTRICTED}})
    for obj in in_namespace(manifest_objects("rbac"), namespace_name):
        create_from_yaml_single_item(kube.api, obj)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    os.chown(checkpoints, TRAINER_UID, TRAINER_UID)
    folders = {"datasets": smoke_volumes / "datasets", "models": smoke_volumes / "models", "checkpoints": checkpoints}
    for claim, folder in folders.items():
        core.create_persistent_volume(_volume(namespace_name, claim, folder))
        core.create_namespaced_persistent_volume_claim(namespace_name, {
            "metadata": {"name": claim},
            "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": STORAGE_CLASS,
                     "resources": {"requests": {"storage": "1Gi"}}}})
    until(lambda: exists(core.read_namespaced_service_account, "default", namespace_name), 30, "ServiceAccount")
    for claim in folders:
        until(lambda c=claim: core.read_namespaced_persistent_volume_claim(c, namespace_name).status.phase == "Bound",
              30, f"claim {claim} Bound")
    yield namespace_name
    core.delete_namespace(namespace_name, propagation_policy="Background")
    for claim in folders:
        core.delete_persistent_volume(f"{namespace_name}-{claim}")


@pytest.fixture
def namespace_name(request) -> str:
    from tests.cluster.fixtures import _namespace_name
    return _namespace_name(request.node.name)


def _volume(namespace: str, claim: str, folder: Path) -> dict:
    return {"metadata": {"name": f"{namespace}-{claim}"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadOnlyMany"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": STORAGE_CLASS,
                     "hostPath": {"path": str(folder)}, "claimRef": {"namespace": namespace, "name": claim}}}


def _launch(kube, namespace: str, tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    where = ["--namespace", namespace, "--kubeconfig", str(kube.kubeconfig), "--runs-root", str(tmp_path / "runs")]
    return run_launch(*args, *where, timeout=timeout)


def _complete(kube, namespace: str, run_id: str):
    job = kube.batch.read_namespaced_job(run_id, namespace)
    return {c.type for c in job.status.conditions or []} & {"Complete", "Failed"}


def test_smoke_on_one_real_node_succeeds_with_its_metrics_and_logs(kube, real_namespace, tmp_path):
    image = kube.real_node.image
    submitted = _launch(kube, real_namespace, tmp_path, "train", "configs/smoke.yaml", "--set", "resources.nodes=1",
                        *on_the_real_node(image), "-o", "json")
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout.splitlines()[-1])["run_id"]

    ended = until(lambda: _complete(kube, real_namespace, run_id), 600, f"Job {run_id} to finish on the real node")
    (pod,) = kube.core.list_namespaced_pod(real_namespace, label_selector=f"batch.kubernetes.io/job-name={run_id}").items
    assert pod.spec.node_name == "localhost" and pod.spec.containers[0].image == image
    terminated = pod.status.container_statuses[0].state.terminated
    assert ended == {"Complete"}, (terminated, _launch(kube, real_namespace, tmp_path, "logs", run_id).stdout[-3000:])
    assert terminated.exit_code == 0

    status = _launch(kube, real_namespace, tmp_path, "status", run_id, "-o", "json")
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout.splitlines()[-1])
    message = json.loads(terminated.message)  # written by the trainer, served by the real kubelet
    assert shown["status"] == "Succeeded"
    assert shown["metrics"] and shown["metrics"] == message["metrics"]
    assert shown["committed_step"] == 100

    logs = _launch(kube, real_namespace, tmp_path, "logs", run_id)
    assert logs.returncode == 0, logs.stderr
    served = kube.core.read_namespaced_pod_log(pod.metadata.name, real_namespace)
    assert served.strip() and served.strip().splitlines()[-1] in logs.stdout
    assert "step" in logs.stdout


def test_a_deleted_pod_requeues_with_75_and_its_replacement_resumes(kube, real_namespace, tmp_path):
    """`kubectl delete pod` mid-training, as a spot notice does it: the real kubelet's SIGTERM reaches the trainer
    through tini, the trainer commits and exits 75 within the grace period, the Job controller replaces the pod
    and the replacement resumes from the committed step."""
    submitted = _launch(kube, real_namespace, tmp_path, "train", "configs/smoke.yaml", "--set", "resources.nodes=1",
                        "--set", "checkpoint.every_n_steps=10", *on_the_real_node(kube.real_node.image), "-o", "json")
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout.splitlines()[-1])["run_id"]
    pods = lambda: kube.core.list_namespaced_pod(  # noqa: E731
        real_namespace, label_selector=f"batch.kubernetes.io/job-name={run_id}").items
    first = until(lambda: next((p for p in pods() if p.status.phase == "Running"), None), 300, "the pod Running")
    until(lambda: list((tmp_path / "checkpoints").rglob("manifest.json")), 300, "a committed checkpoint")

    running = kube.core.read_namespaced_pod(first.metadata.name, real_namespace)
    kube.core.delete_namespaced_pod(first.metadata.name, real_namespace)  # the pod's own grace period
    stopped = _last_state(kube.core, running)  # a deleted pod leaves the API once its kubelet is done with it
    requeue = json.loads(stopped.message)
    assert (stopped.exit_code, requeue["outcome"]) == (75, "requeue") and requeue["committed_step"] >= 10, requeue

    ended = until(lambda: _complete(kube, real_namespace, run_id), 600, f"Job {run_id} to finish")
    assert ended == {"Complete"}, _launch(kube, real_namespace, tmp_path, "logs", run_id).stdout[-3000:]
    (replacement,) = pods()
    assert replacement.metadata.uid != first.metadata.uid
    status = json.loads(_launch(kube, real_namespace, tmp_path, "status", run_id, "-o", "json").stdout.splitlines()[-1])
    assert (status["status"], status["committed_step"]) == ("Succeeded", 100)
    logs = _launch(kube, real_namespace, tmp_path, "logs", run_id).stdout
    assert "(resumed)" in logs, logs[-3000:]  # from the committed step, not from scratch


def _last_state(core: client.CoreV1Api, pod) -> client.V1ContainerStateTerminated:
    """The trainer container's terminated state as the kubelet reported it, watched from `pod`'s version on."""
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_pod, pod.metadata.namespace, timeout_seconds=120,
                               field_selector=f"metadata.name={pod.metadata.name}",
                               resource_version=pod.metadata.resource_version):
        statuses = event["object"].status.container_statuses or []
        if statuses and statuses[0].state.terminated:
            stream.stop()
            return statuses[0].state.terminated
    raise AssertionError(f"pod {pod.metadata.name} went away without a terminated state")
