"""`launch train` cut off half-way (the fault proxy drops every try of one write) leaves a Job that the next
`launch train` or `launch resume` completes (its ConfigMap and Service created, then released), that `launch
doctor` names as cut off, and that no pod nor Kueue can start before its ConfigMap exists; a run whose Job the
TTL controller removed still has a status. Real control plane (tests/cluster)."""

import json
import subprocess
import sys

import pytest

from launcher.schema.contract import termination_message
from tests.cluster.wait import until
from tests.factory import ROOT, run_launch

pytestmark = pytest.mark.cluster

QUICKSTART = ("configs/quickstart.yaml", "--set", "resources.nodes=1")
SUBMISSION = "kubetrain.dev/submission"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


@pytest.fixture
def via_proxy(kube, namespace, proxy, tmp_path):
    """A kubeconfig through the proxy, as admin, in the test's namespace."""
    return proxy.kubeconfig(tmp_path / "proxy.kubeconfig", kube.control_plane.tokens["admin"], namespace)


def launch(kubeconfig, namespace, tmp_path, *args):
    return run_launch(*args, "--namespace", namespace, "--kubeconfig", str(kubeconfig),
                      "--runs-root", str(tmp_path / "runs"), timeout=120)


def run_id_of(namespace: str, *config: str) -> str:
    rendered = run_launch("render", *config, "--set", f"namespace={namespace}", "-o", "json").stdout
    return json.loads(rendered)["items"][-1]["metadata"]["name"]


def cut(proxy, method: str, path: str) -> None:
    """Drop every try of the write (the retry policy gives up: the command exits 2 half-way)."""
    proxy.inject(method, path, "drop", times=100)


def mended(proxy) -> None:
    proxy.faults.clear()


def owned_objects(kube, namespace: str, run_id: str) -> dict[str, str]:
    """Kind -> the uid of the Job owning it, for the run's ConfigMap and Service that exist."""
    selector = f"kubetrain.dev/run={run_id}"
    found = {}
    for kind, items in (("ConfigMap", kube.core.list_namespaced_config_map(namespace, label_selector=selector)),
                        ("Service", kube.core.list_namespaced_service(namespace, label_selector=selector))):
        for item in items.items:
            found[kind] = item.metadata.owner_references[0].uid
    return found


@pytest.mark.parametrize("nodes, method, write", [(1, "PATCH", "/jobs/"), (2, "POST", "/services")],
                         ids=["before-the-unsuspend", "before-the-service"])
def test_launch_train_again_completes_a_submission_cut_after_its_configmap(
        kube, namespace, proxy, via_proxy, tmp_path, nodes, method, write):
    config = ("configs/quickstart.yaml", "--set", f"resources.nodes={nodes}")
    run_id = run_id_of(namespace, *config)
    cut(proxy, method, f"/namespaces/{namespace}{write}")
    first = launch(via_proxy, namespace, tmp_path, "train", *config)
    assert first.returncode == 2 and "Traceback" not in first.stderr, first.stderr
    job = kube.batch.read_namespaced_job(run_id, namespace)
    assert (job.spec.suspend, "ConfigMap" in owned_objects(kube, namespace, run_id)) == (True, True)

    mended(proxy)
    again = launch(via_proxy, namespace, tmp_path, "train", *config, "-o", "json")
    assert again.returncode == 0, again.stderr
    job = kube.batch.read_namespaced_job(run_id, namespace)
    assert (job.spec.suspend, SUBMISSION in (job.metadata.annotations or {})) == (False, False)
    wanted = {"ConfigMap", "Service"} if nodes > 1 else {"ConfigMap"}
    assert owned_objects(kube, namespace, run_id) == {kind: job.metadata.uid for kind in wanted}


def test_doctor_names_a_cut_submission_and_resume_completes_it(kube, namespace, proxy, via_proxy, tmp_path):
    run_id = run_id_of(namespace, *QUICKSTART)
    cut(proxy, "PATCH", f"/namespaces/{namespace}/jobs/{run_id}")
    assert launch(via_proxy, namespace, tmp_path, "train", *QUICKSTART).returncode == 2
    mended(proxy)

    doctor = launch(via_proxy, namespace, tmp_path, "doctor", run_id)
    assert doctor.returncode == 1 and "submission was cut off" in doctor.stdout, doctor.stdout
    assert f"`launch resume {run_id}` completes it" in doctor.stdout
    resumed = launch(via_proxy, namespace, tmp_path, "resume", run_id)
    assert resumed.returncode == 0 and f"resumed run {run_id}" in resumed.stdout, resumed.stdout + resumed.stderr
    assert kube.batch.read_namespaced_job(run_id, namespace).spec.suspend is False


def test_a_cut_before_the_configmap_leaves_a_job_no_pod_and_no_kueue_can_start(
        kube, namespace, proxy, via_proxy, tmp_path):
    """Suspected 12(b): a Job bound for a Kueue queue got its queue label at creation, before its ConfigMap
    existed, so Kueue could admit it (unsuspend it) and its pods would mount a missing ConfigMap. Now the
    label comes with the release, after the ConfigMap and Service."""
    config = (*QUICKSTART, "--set", "scheduling.queue=training")
    run_id = run_id_of(namespace, *config)
    cut(proxy, "POST", f"/api/v1/namespaces/{namespace}/configmaps")
    assert launch(via_proxy, namespace, tmp_path, "train", *config).returncode == 2
    job = kube.batch.read_namespaced_job(run_id, namespace)
    assert (job.spec.suspend, QUEUE_LABEL in job.metadata.labels, owned_objects(kube, namespace, run_id)) == \
        (True, False, {})

    mended(proxy)
    assert launch(via_proxy, namespace, tmp_path, "train", *config).returncode == 0
    job = kube.batch.read_namespaced_job(run_id, namespace)
    assert (job.spec.suspend, job.metadata.labels[QUEUE_LABEL]) == (True, "training")
    assert owned_objects(kube, namespace, run_id) == {"ConfigMap": job.metadata.uid}
    writes = [(m, p.split("?")[0]) for m, p in proxy.requests if m in ("POST", "PATCH")]
    assert writes[-2:] == [("POST", f"/api/v1/namespaces/{namespace}/configmaps"),
                           ("PATCH", f"/apis/batch/v1/namespaces/{namespace}/jobs/{run_id}")]


def finish(kube, namespace, kubelet, run_id: str) -> None:
    kubelet.succeed(kubelet.running(run_id, 0), message=termination_message(0, "finished", 10, {"test_accuracy": 0.8}))
    until(lambda: any(c.type == "Complete" for c in kube.batch.read_namespaced_job(run_id, namespace).status.conditions
                      or []), 60, f"{run_id} to complete")


def gone(kube, namespace: str, run_id: str) -> None:
    until(lambda: not kube.batch.list_namespaced_job(namespace, field_selector=f"metadata.name={run_id}").items,
          60, f"the TTL controller to remove {run_id}")


@pytest.mark.parametrize("seen_by", ["status", "train --wait"])
def test_status_says_how_a_run_ended_after_the_ttl_removed_its_job(kube, namespace, kubelet, tmp_path, seen_by):
    """Defect 2 for a plain run: `launch status` said "no run" once the TTL controller removed the Job."""
    where = ("--namespace", namespace, "--kubeconfig", str(kube.kubeconfig), "--runs-root", str(tmp_path / "runs"))
    run_id = run_id_of(namespace, *QUICKSTART)
    if seen_by == "status":
        assert run_launch("train", *QUICKSTART, *where).returncode == 0
        finish(kube, namespace, kubelet, run_id)
        seen = json.loads(run_launch("status", run_id, "-o", "json", *where).stdout)
    else:
        waiting = subprocess.Popen([sys.executable, "-m", "launcher", "train", *QUICKSTART, "--wait", "-o", "json",
                                    *where], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        finish(kube, namespace, kubelet, run_id)
        seen = json.loads(waiting.communicate(timeout=120)[0].splitlines()[-1])
    assert (seen["status"], seen["metrics"]) == ("Succeeded", {"test_accuracy": 0.8})

    kube.batch.patch_namespaced_job(run_id, namespace, {"spec": {"ttlSecondsAfterFinished": 0}})
    gone(kube, namespace, run_id)
    after = run_launch("status", run_id, "-o", "json", *where)
    assert after.returncode == 0, after.stderr
    doc = json.loads(after.stdout)
    assert (doc["status"], doc["metrics"], doc["attempts"]) == ("Succeeded", {"test_accuracy": 0.8}, 1)
    assert "removed after it ended" in doc["reason"]


def test_status_of_a_run_removed_before_anyone_saw_it_end_says_so_and_how_to_bring_it_back(
        kube, namespace, kubelet, tmp_path):
    where = ("--namespace", namespace, "--kubeconfig", str(kube.kubeconfig), "--runs-root", str(tmp_path / "runs"))
    submitted = run_launch("train", *QUICKSTART, "--set", "job.ttl_seconds_after_finished=0", "-o", "json", *where)
    run_id = json.loads(submitted.stdout.splitlines()[-1])["run_id"]
    kubelet.succeed(kubelet.running(run_id, 0))
    gone(kube, namespace, run_id)
    after = run_launch("status", run_id, "-o", "json", *where)
    assert after.returncode == 0, after.stderr
    doc = json.loads(after.stdout)
    assert doc["status"] == "Gone" and f"`launch resume {run_id}`" in doc["reason"]
    assert run_launch("resume", run_id, *where).returncode == 0
    assert kube.batch.read_namespaced_job(run_id, namespace).spec.suspend is False
