"""Followers (`launch train --wait`, `logs -f`, `sweep --wait`) ride out an API server outage that outlasts
every per-call retry, say on stderr that they are reconnecting, and end as the run ends; an answer that
waiting cannot change ends them at once. A followed log is re-opened from its last line, never from the
start. The outage is the fault proxy's (tests/cluster/faults.py): open streams cut, every request dropped."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from launcher.schema.contract import termination_message
from tests.children import started
from tests.cluster.controlplane import write_kubeconfig
from tests.cluster.wait import until
from tests.factory import ROOT

pytestmark = pytest.mark.cluster

QUICKSTART = ("configs/quickstart.yaml", "--set", "resources.nodes=1")
OUTAGE_SECONDS = 25  # longer than Kube's own retries of one call (about 8 s): only a follower's reconnects help
RECONNECTING = "reconnecting to the API server in "


def launch(kubeconfig: Path, namespace: str, tmp_path: Path, *args: str):
    """`launch ARGS` started in the background (a context manager: reaped when the test ends)."""
    return started([sys.executable, "-m", "launcher", *args, "--namespace", namespace, "--kubeconfig",
                    str(kubeconfig), "--runs-root", str(tmp_path / "runs")], cwd=ROOT, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True)


def one_trial_sweep(folder: Path) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "Sweep", "name": "lr", "max_parallel": 1, "grid": {"train.lr": [1.0e-5]},
        "base": {"config": str(ROOT / "configs/bert.yaml"), "overrides": {"resources.nodes": 1}}}))
    return path


def the_job(kube, namespace: str, label: str) -> str:
    """The name of the one unsuspended Job carrying `label`."""
    return until(lambda: next((j.metadata.name for j in kube.batch.list_namespaced_job(
        namespace, label_selector=label).items if not j.spec.suspend), None), 60, f"a Job with {label}")


@pytest.fixture
def via_proxy(kube, namespace, proxy, tmp_path) -> Path:
    return proxy.kubeconfig(tmp_path / "proxy.kubeconfig", kube.control_plane.tokens["admin"], namespace)


def test_wait_logs_and_sweep_ride_out_an_outage_and_end_with_the_run(kube, namespace, kubelet, proxy, via_proxy,
                                                                     tmp_path):
    proxy.script_logs(["[run] training from step 0 of 80", "[run] reached step 40/80"])
    with launch(via_proxy, namespace, tmp_path, "sweep", str(one_trial_sweep(tmp_path)), "--wait") as sweep, \
            launch(via_proxy, namespace, tmp_path, "train", *QUICKSTART, "--wait", "-o", "json") as waiting:
        trial = kubelet.running(the_job(kube, namespace, "kubetrain.dev/sweep=lr"), 0)
        run_id = the_job(kube, namespace, "!kubetrain.dev/sweep")
        pod = kubelet.running(run_id, 0)
        with launch(via_proxy, namespace, tmp_path, "logs", run_id, "-f") as follower:
            until(lambda: proxy.served, 30, "the follower to read the log")
            proxy.outage(OUTAGE_SECONDS)
            time.sleep(OUTAGE_SECONDS / 2)  # the run goes on while the API server is away
            proxy.append_log(pod.metadata.name, "finished: steps=80")
            kubelet.succeed(pod, message=termination_message(0, "finished: steps=80", 80))
            kubelet.succeed(trial, message=termination_message(0, "finished", 80, {"test_accuracy": 0.9}))
            logged, log_notes = follower.communicate(timeout=180)
        out, wait_notes = waiting.communicate(timeout=120)
        _, sweep_notes = sweep.communicate(timeout=120)
    for name, proc, notes in (("wait", waiting, wait_notes), ("logs", follower, log_notes),
                              ("sweep", sweep, sweep_notes)):
        assert proc.returncode == 0, (name, notes)
        assert RECONNECTING in notes and "reconnected to the API server after " in notes, (name, notes)
        assert "Traceback" not in notes, (name, notes)
    assert json.loads(out.splitlines()[-1])["status"] == "Succeeded"
    assert logged.splitlines() == ["[run] training from step 0 of 80", "[run] reached step 40/80",
                                   "finished: steps=80"]


def test_a_followed_log_is_reopened_from_its_last_line_not_from_the_start(kube, namespace, kubelet, proxy,
                                                                           via_proxy, tmp_path):
    """The proxy's log ends each stream as if the connection closed while the pod runs on: every re-open
    must ask for the recent lines only (sinceSeconds), print none twice and lose none."""
    proxy.script_logs(["[run] training from step 0 of 80", "[run] reached step 40/80"])
    with launch(via_proxy, namespace, tmp_path, "train", *QUICKSTART) as submitted:
        assert submitted.wait(timeout=60) == 0, submitted.stderr.read()
    run_id = the_job(kube, namespace, "!kubetrain.dev/sweep")
    pod = kubelet.running(run_id, 0)
    with launch(via_proxy, namespace, tmp_path, "logs", run_id, "-f") as follower:
        until(lambda: len(proxy.served) >= 3, 60, "the follower to re-open the log twice")
        proxy.append_log(pod.metadata.name, "[run] reached step 60/80")
        until(lambda: len(proxy.served) >= 5, 60, "the follower to re-open the log twice more")
        proxy.append_log(pod.metadata.name, "finished: steps=80")
        kubelet.succeed(pod, message=termination_message(0, "finished: steps=80", 80))
        logged, notes = follower.communicate(timeout=60)
    assert follower.returncode == 0, notes
    assert logged.splitlines() == ["[run] training from step 0 of 80", "[run] reached step 40/80",
                                   "[run] reached step 60/80", "finished: steps=80"]
    first, *reopened = proxy.served
    assert "sinceSeconds" not in first[1] and all("sinceSeconds=" in query for _, query, _ in reopened)
    served = [line for _, _, lines in proxy.served for line in lines]
    assert served.count("[run] training from step 0 of 80") == 1  # the start of the log was sent once


@pytest.fixture
def revocable_kubeconfig(kube, namespace, tmp_path) -> Path:
    """A kubeconfig for ServiceAccount `launcher` (rbac.yaml's Role), whose RoleBinding a test can delete."""
    request = {"spec": {"audiences": [], "expirationSeconds": 600}}
    token = kube.core.create_namespaced_service_account_token("launcher", namespace, request).status.token
    lay = kube.control_plane.layout
    write_kubeconfig(tmp_path / "launcher.kubeconfig", lay.server, lay.serving_cert, "launcher", token)
    return tmp_path / "launcher.kubeconfig"


def test_a_follower_stops_at_once_when_its_access_is_revoked(kube, namespace, kubelet, revocable_kubeconfig,
                                                             tmp_path):
    with launch(revocable_kubeconfig, namespace, tmp_path, "train", *QUICKSTART, "--wait") as waiting:
        kubelet.running(the_job(kube, namespace, "!kubetrain.dev/sweep"), 0)
        # The admin deletes the binding: RBAC refuses the follower's next call, and waiting cannot change that.
        client.RbacAuthorizationV1Api(kube.api).delete_namespaced_role_binding("launcher", namespace)
        _, notes = waiting.communicate(timeout=60)
    assert waiting.returncode == 2
    assert RECONNECTING not in notes
    (line,) = notes.splitlines()
    assert line.startswith("error: forbidden: cannot ") and "manifests/rbac.yaml" in line, notes
