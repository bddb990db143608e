"""`launch status` and `launch doctor` on runs that are not progressing, or whose pods go away, on the real control
plane: pods the Job controller cannot create (a missing ServiceAccount, a ResourceQuota with the real resource
quota controller, a LimitRange), a pod stopping or stuck terminating on a node whose kubelet is gone (a node of
the test's own, tests/cluster/nodes.register_node), and counts that must not go down when pod objects vanish
(kubernetes/kubernetes#81285)."""

import json
import secrets

import pytest

from tests.cluster.nodes import node_lost, register_node
from tests.cluster.objects import run_objects, submit
from tests.cluster.wait import until
from tests.factory import run_launch

pytestmark = pytest.mark.cluster


def launch(kube, tmp_path, *args: str):
    return run_launch(*args, "--kubeconfig", str(kube.kubeconfig), "--runs-root", str(tmp_path))


def doctor(kube, tmp_path, namespace: str, run_id: str) -> tuple[int, list[dict]]:
    result = launch(kube, tmp_path, "doctor", run_id, "-o", "json", "--namespace", namespace)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def status(kube, tmp_path, namespace: str, run_id: str) -> dict:
    result = launch(kube, tmp_path, "status", run_id, "-o", "json", "--namespace", namespace)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _run(kube, namespace: str, config: str, *overrides: str) -> str:
    return submit(kube.api, run_objects(config, namespace, *overrides)).metadata.name


def _refused(kube, tmp_path, namespace: str, run_id: str, words: str) -> tuple[int, list[dict]]:
    """Doctor, once the Job controller has reported its refusal (it acts asynchronously)."""
    return until(lambda: (found := doctor(kube, tmp_path, namespace, run_id)) and
                 any(words in f["what"] for f in found[1]) and found, 30, f"a finding saying {words!r}")


# Pods the Job controller cannot create (defects 8 and 15) ---------------------------------------------------------
def test_a_missing_service_account_is_named_and_never_healthy(kube, namespace, tmp_path):
    run_id = _run(kube, namespace, "bert.yaml", "storage.checkpoints.service_account=trainr")
    code, findings = _refused(kube, tmp_path, namespace, run_id, "ServiceAccount trainr does not exist")
    assert code == 1 and findings[0]["problem"]
    assert findings[0]["what"].startswith("the Job controller cannot create the pod of indexes 0, 1:")
    assert 'serviceaccount "trainr" not found' in findings[0]["evidence"]
    assert "storage.checkpoints.service_account" in findings[0]["fix"]
    assert status(kube, tmp_path, namespace, run_id)["status"] == "Pending"


def test_a_full_resource_quota_is_named_by_the_real_quota_controller(kube, namespace, tmp_path):
    kube.core.create_namespaced_resource_quota(namespace, {
        "metadata": {"name": "compute"}, "spec": {"hard": {"limits.cpu": "500m"}}})
    until(lambda: (kube.core.read_namespaced_resource_quota("compute", namespace).status.used or {}) == {
        "limits.cpu": "0"}, 30, "the resource quota controller to fill in status.used")
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    code, findings = _refused(kube, tmp_path, namespace, run_id, "ResourceQuota compute is full")
    assert code == 1 and findings[0]["what"] == (
        "the Job controller cannot create the pod of index 0: the namespace's ResourceQuota compute is full "
        "(requested limits.cpu=1; used limits.cpu=0; limited limits.cpu=500m)")
    assert "kubectl describe resourcequota compute" in findings[0]["fix"]


def test_a_limit_range_that_refuses_the_pods_is_named(kube, namespace, tmp_path):
    kube.core.create_namespaced_limit_range(namespace, {
        "metadata": {"name": "small"}, "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}})
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    code, findings = _refused(kube, tmp_path, namespace, run_id, "LimitRange refuses it")
    assert code == 1 and findings[0]["what"] == (
        "the Job controller cannot create the pod of index 0: the namespace's LimitRange refuses it: maximum "
        "memory usage per Container is 1Gi, but limit is 4Gi")
    assert findings[0]["fix"].startswith("set resources.memory within the LimitRange's bounds")


# A pod stopping, or stuck terminating on a node whose kubelet is gone (defects 11 and 14) -----------------------
@pytest.fixture
def own_node(kube):
    """A node the test is the kubelet of; deleted afterwards (the pod garbage collector then ends its pods)."""
    name = register_node(kube.core, f"own-{secrets.token_hex(3)}")
    yield name
    try:
        kube.core.delete_node(name)
    except Exception:  # the test deleted it already
        pass


def _running_on(kube, kubelet, namespace: str, node: str) -> tuple[str, object]:
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1",
                  f'scheduling.node_selector={{"kubernetes.io/hostname": "{node}"}}')
    pod = until(lambda: next((p for p in kubelet.pods(run_id) if p.spec.node_name), None), 30, "a scheduled pod")
    kubelet.start(pod)
    return run_id, pod


def test_a_run_whose_only_pod_is_being_evicted_is_running_and_stopping(kube, namespace, kubelet, own_node,
                                                                       tmp_path):
    run_id, pod = _running_on(kube, kubelet, namespace, own_node)
    assert status(kube, tmp_path, namespace, run_id)["status"] == "Running"
    kube.core.create_namespaced_pod_eviction(pod.metadata.name, namespace, {"metadata": {
        "name": pod.metadata.name, "namespace": namespace}})
    shown = status(kube, tmp_path, namespace, run_id)
    assert (shown["status"], shown["indexes"][0]["state"]) == ("Running", "Stopping")
    assert shown["reason"].startswith(f"index 0 is stopping (pod {pod.metadata.name}")
    code, findings = doctor(kube, tmp_path, namespace, run_id)
    assert code == 0 and findings[0]["what"].startswith(f"index 0 is stopping: pod {pod.metadata.name} was "
                                                        "deleted at ")


def test_a_pod_stuck_on_a_lost_node_is_named_until_the_node_is_deleted(kube, namespace, kubelet, own_node, tmp_path):
    run_id, pod = _running_on(kube, kubelet, namespace, own_node)
    node_lost(kube.core, own_node)
    kube.core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=1)
    code, findings = doctor(kube, tmp_path, namespace, run_id)
    assert code == 1 and findings[0]["pod"] == pod.metadata.name
    assert findings[0]["what"].startswith(f"index 0 is stuck: pod {pod.metadata.name} has been terminating since ")
    assert f"on node {own_node} (NotReady since " in findings[0]["what"]
    assert f"kubectl delete node {own_node}" in findings[0]["fix"]
    shown = until(lambda: (s := status(kube, tmp_path, namespace, run_id))["indexes"][0]["state"] == "Stuck" and s,
                  60, "status to call the index stuck, past the pod's grace period")
    assert shown["reason"].startswith("index 0 is stuck: ")
    kube.core.delete_node(own_node)  # the fix doctor names: the pod garbage collector ends the node's pods
    until(lambda: len(kubelet.pods(run_id)) == 1 and kubelet.pods(run_id)[0].metadata.name != pod.metadata.name,
          150, "the replacement pod, once the pod garbage collector has ended the stuck one")
    shown = status(kube, tmp_path, namespace, run_id)
    assert (shown["attempts"], shown["preemptions"], shown["failures"]) == (2, 1, 0)


# Counts that never go down when pod objects vanish (defect 13, kubernetes/kubernetes#81285) --------------------
def test_an_evicted_pod_that_vanished_keeps_its_attempt_and_its_preemption(kube, namespace, kubelet, tmp_path):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    first = kubelet.running(run_id, 0)
    assert status(kube, tmp_path, namespace, run_id)["attempts"] == 1
    kube.core.create_namespaced_pod_eviction(first.metadata.name, namespace, {"metadata": {
        "name": first.metadata.name, "namespace": namespace}})
    def replaced():
        pods = kubelet.pods(run_id)
        return pods[0] if len(pods) == 1 and pods[0].metadata.name != first.metadata.name else None
    second = until(replaced, 60, "the evicted pod to vanish and its replacement to be created")
    shown = status(kube, tmp_path, namespace, run_id)
    assert (shown["attempts"], shown["preemptions"], shown["failures"]) == (2, 1, 0)
    assert [(a["attempt"], a["pod"], a["gone"]) for a in shown["history"]] == [
        (1, first.metadata.name, True), (2, second.metadata.name, False)]
    gone = launch(kube, tmp_path, "logs", run_id, "--attempt", "1", "--namespace", namespace)
    assert gone.returncode == 2 and gone.stderr.startswith(
        f"error: index 0 attempt 1: its pod {first.metadata.name} no longer exists")
    assert "its log went with it" in gone.stderr


def test_a_crash_whose_pod_was_deleted_is_still_counted_from_the_job(kube, namespace, kubelet, tmp_path):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    crashed = kubelet.running(run_id, 0)
    kubelet.exit(crashed, 1)
    until(lambda: kube.batch.read_namespaced_job(run_id, namespace).status.failed == 1, 30,
          "the Job controller to count the crash")
    kube.core.delete_namespaced_pod(crashed.metadata.name, namespace)  # as `kubectl delete pod` or the pod GC
    until(lambda: all(p.metadata.name != crashed.metadata.name for p in kubelet.pods(run_id)), 30,
          "the crashed pod object to be gone")
    shown = status(kube, tmp_path, namespace, run_id)
    assert (shown["failures"], shown["preemptions"]) == (1, 0) and shown["attempts"] >= 1
