"""`launch train | status | logs -f | cancel | resume` against the real control plane, through the official
client over HTTPS, as a user runs them (each command a fresh `launch` process)."""

import json
import subprocess
import sys

import pytest
import yaml

from launcher.schema.contract import termination_message
from tests.cluster.kubelet import NODE_SHUTDOWN
from tests.cluster.nodes import POOL_LABEL
from tests.cluster.wait import until
from tests.factory import ROOT, run_launch

pytestmark = pytest.mark.cluster

CONFIG = "configs/bert.yaml"


@pytest.fixture
def launch(kube, namespace, tmp_path):
    """`launch ARGS` against the test's namespace with the admin kubeconfig; returns the finished process."""
    where = ["--namespace", namespace, "--kubeconfig", str(kube.kubeconfig), "--runs-root", str(tmp_path / "runs")]

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return run_launch(*args, *where, timeout=timeout)
    run.where = where
    return run


def _json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _follow(launch, run_id: str, index: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "launcher", "logs", run_id, "-f", "--index", str(index),
                             *launch.where], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _objects(kube, namespace: str, run_id: str) -> dict[str, list[str]]:
    selector = f"kubetrain.dev/run={run_id}"
    pods = kube.core.list_namespaced_pod(namespace, label_selector=f"batch.kubernetes.io/job-name={run_id}")
    return {"jobs": [j.metadata.name for j in kube.batch.list_namespaced_job(namespace).items],
            "configmaps": [c.metadata.name for c in kube.core.list_namespaced_config_map(
                namespace, label_selector=selector).items],
            "services": [s.metadata.name for s in kube.core.list_namespaced_service(namespace).items],
            "pods": [p.metadata.name for p in pods.items]}


def test_a_run_is_submitted_preempted_replaced_followed_cancelled_and_resumed(kube, namespace, kubelet, launch):
    submitted = _json(launch("train", CONFIG, "-o", "json"))
    run_id = submitted["run_id"]
    assert (submitted["created"], submitted["namespace"]) == (True, namespace)
    follower = _follow(launch, run_id, 1)

    first = [kubelet.running(run_id, index) for index in (0, 1)]
    assert {kube.core.read_node(p.spec.node_name).metadata.labels[POOL_LABEL] for p in first} == {"gke-spot"}
    kubelet.shut_down_node(first[1], message=termination_message(75, "requeue: stopped at step 40 on SIGTERM", 40))
    replacement = until(lambda: next((p for p in kubelet.pods(run_id, 1) if p.metadata.uid != first[1].metadata.uid
                                      and p.status.phase == "Running"), None), 60,
                        "the Job controller's replacement for index 1, Running")
    metrics = {"test_accuracy": 0.91, "steps": 80}
    for pod in (first[0], replacement):
        kubelet.succeed(pod, message=termination_message(0, "finished: steps=80", 80, metrics))
    until(lambda: any(c.type == "Complete" for c in kube.batch.read_namespaced_job(run_id, namespace).status.conditions
                      or []), 60, "the Job to complete")

    status = _json(launch("status", run_id, "-o", "json"))
    index_1 = status["indexes"][1]
    assert (status["status"], index_1["attempts"], index_1["preemptions"], index_1["failures"]) == \
        ("Succeeded", 2, 1, 0)
    assert (status["committed_step"], status["metrics"]) == (80, metrics)
    assert [a["committed_step"] for a in status["history"] if a["index"] == 1] == [40, 80]
    assert yaml.safe_load(launch("status", run_id, "-o", "yaml").stdout) == status
    wide = launch("status", run_id, "-o", "wide").stdout
    assert f"Where:           cluster, namespace {namespace}\n" in wide and "\nINDEX   ATTEMPT   POD " in wide
    assert [line.split()[:2] for line in launch("list").stdout.splitlines()] == [["NAME", "STATUS"],
                                                                                [run_id, "Succeeded"]]
    assert yaml.safe_load(launch("doctor", run_id, "-o", "yaml").stdout) == _json(launch("doctor", run_id, "-o",
                                                                                         "json"))

    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    ends = [line for line in err.splitlines() if " ended: " in line]
    assert len(ends) == 2, err
    assert f"attempt 1 (pod {first[1].metadata.name}) ended: preempted by TerminationByKubelet" in ends[0]
    assert f"attempt 2 (pod {replacement.metadata.name}) ended: succeeded" in ends[1]

    replay = launch("logs", run_id, "-f", "--index", "1", timeout=30)  # a finished run: both attempts, then exit
    assert replay.returncode == 0 and [line for line in replay.stderr.splitlines() if " ended: " in line] == ends

    again = _json(launch("train", CONFIG, "-o", "json"))
    assert (again["run_id"], again["created"], again["existed"], again["status"]) == \
        (run_id, False, True, "Succeeded")
    changed = launch("train", CONFIG, "--run-id", run_id, "--set", "train.lr=1e-4")
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    assert f"config hash {status['config_hash']}, and this config hashes to " in changed.stderr

    cancelled = launch("cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"launch resume {run_id}" in cancelled.stdout
    assert _objects(kube, namespace, run_id) == {"jobs": [], "configmaps": [], "services": [], "pods": []}
    assert _json(launch("status", run_id, "-o", "json"))["status"] == "Cancelled"

    resumed = launch("resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert "continues from its newest valid checkpoint" in resumed.stdout
    job = kube.batch.read_namespaced_job(run_id, namespace)
    env = {e.name: e.value for e in job.spec.template.spec.containers[0].env}
    assert (env["RUN_ID"], job.metadata.labels["kubetrain.dev/config-hash"]) == (run_id, status["config_hash"])
    kubelet.running(run_id, 0)
    again = launch("resume", run_id)
    assert "nothing to resume" in again.stdout and again.returncode == 0


def test_logs_read_one_attempt_and_follow_an_index_across_its_replacement(kube, namespace, kubelet, proxy, tmp_path):
    """kwok serves no container logs, so the proxy answers the log requests as the pods' kubelet would."""
    kubeconfig = proxy.kubeconfig(tmp_path / "proxy.kubeconfig", kube.control_plane.tokens["admin"], namespace)
    where = ["--namespace", namespace, "--kubeconfig", str(kubeconfig), "--runs-root", str(tmp_path / "runs")]
    run_id = _json(run_launch("train", "configs/quickstart.yaml", "--set", "resources.nodes=1", "-o", "json",
                              *where))["run_id"]
    first_log = ["[run] training from step 0 of 80", "[run] reached step 40/80", "requeue: stopped at step 40"]
    second_log = ["[run] training from step 40 of 80 (resumed)", "finished: steps=80"]
    proxy.script_logs(first_log, second_log)
    first = kubelet.running(run_id, 0)
    follower = subprocess.Popen([sys.executable, "-m", "launcher", "logs", run_id, "-f", *where], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    until(lambda: any(path.endswith(f"/pods/{first.metadata.name}/log") or f"/pods/{first.metadata.name}/log?"
                      in path for _, path in proxy.requests), 30, "the follower to read attempt 1")
    kubelet.shut_down_node(first, message=termination_message(75, "requeue: stopped at step 40", 40))
    second = until(lambda: next((p for p in kubelet.pods(run_id, 0) if p.metadata.uid != first.metadata.uid
                                 and p.status.phase == "Running"), None), 60, "the replacement, Running")
    kubelet.succeed(second, message=termination_message(0, "finished: steps=80", 80))
    out, _ = follower.communicate(timeout=60)
    lines = [line for line in out.splitlines() if "is not running yet; waiting" not in line]  # if it saw Pending
    assert follower.returncode == 0, out
    ended = [f"── index 0 attempt 1 (pod {first.metadata.name}) ended: preempted by TerminationByKubelet: "
             f"{NODE_SHUTDOWN} (requeue: stopped at step 40) ──",
             f"── index 0 attempt 2 (pod {second.metadata.name}) ended: succeeded ──"]
    assert lines == [*first_log, ended[0], *second_log, ended[1]]
    tail = run_launch("logs", run_id, "--attempt", "1", "--tail", "1", *where)
    assert (tail.returncode, tail.stdout) == (0, "requeue: stopped at step 40\n")
    beyond = run_launch("logs", run_id, "-f", "--index", "1", *where)
    assert (beyond.returncode, beyond.stderr) == (2, f"error: --index 1: run {run_id} has indexes 0 to 0\n")
