"""`launch sweep` against the real control plane: at most max_parallel trials unsuspended, whatever the number
of passes and however they overlap; finished trials free their slots on the next pass; a preempted trial is
the same run; an edited sweep reports its orphan. Pods are driven with tests/cluster's kubelet."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from launcher.cluster.api import Kube
from launcher.sweeps.reconcile import reconcile
from launcher.schema.contract import termination_message
from launcher.cli.sweep import load_trials
from tests.cluster.wait import until
from tests.factory import ROOT
from tests.test_cluster_rbac import launcher_api  # noqa: F401 (a fixture)

pytestmark = pytest.mark.cluster

LRS = [1.0e-5, 2.0e-5, 3.0e-5, 4.0e-5, 5.0e-5]


def write_sweep(folder: Path, lrs: list[float], max_parallel: int) -> Path:
    """A one-node-per-trial sweep over configs/bert.yaml: one trial per learning rate."""
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "Sweep", "name": "lr", "max_parallel": max_parallel, "grid": {"train.lr": lrs},
        "metric": {"name": "test_accuracy", "goal": "max"},
        "base": {"config": str(ROOT / "configs/bert.yaml"), "overrides": {"resources.nodes": 1}}}))
    return path


def one_pass(kube, namespace: str, path: Path):
    """One reconcile pass in this process, as `launch sweep` makes it."""
    loaded, trials = load_trials(path, namespace)
    return reconcile(Kube(kube.api, namespace), loaded.sweep.name, trials, loaded.sweep.max_parallel)


def jobs(kube, namespace: str) -> dict[str, object]:
    return {j.metadata.name: j for j in kube.batch.list_namespaced_job(namespace).items}


def unsuspended(kube, namespace: str) -> list[str]:
    """Jobs allowed to run (not suspended) that have not ended."""
    return sorted(name for name, j in jobs(kube, namespace).items() if not j.spec.suspend and not any(
        c.type in ("Complete", "Failed") and c.status == "True" for c in j.status.conditions or []))


def finish(kube, namespace: str, kubelet, run_id: str, accuracy: float) -> None:
    """Run the trial's pod to success and wait for the Job controller to mark the Job Complete."""
    pod = kubelet.running(run_id, 0)
    kubelet.succeed(pod, message=termination_message(0, "finished", 10, {"test_accuracy": accuracy}))
    until(lambda: any(c.type == "Complete" for c in kube.batch.read_namespaced_job(run_id, namespace).status.conditions
                      or []), 60, f"{run_id} to complete")


def test_passes_keep_max_parallel_and_finished_trials_free_their_slots(kube, namespace, kubelet, tmp_path):
    path = write_sweep(tmp_path, LRS, max_parallel=2)
    first = one_pass(kube, namespace, path)
    assert (len(first.created), sorted(first.states.values())) == (5, ["active"] * 2 + ["waiting"] * 3)
    active = sorted(r for r, s in first.states.items() if s == "active")
    assert unsuspended(kube, namespace) == active

    again = one_pass(kube, namespace, path)
    assert (again.created, again.states, unsuspended(kube, namespace)) == ([], first.states, active)

    for run_id in active:
        finish(kube, namespace, kubelet, run_id, 0.9)
    third = one_pass(kube, namespace, path)
    assert sorted(third.states.values()) == ["Succeeded"] * 2 + ["active"] * 2 + ["waiting"]
    assert (third.created, len(unsuspended(kube, namespace)), len(jobs(kube, namespace))) == ([], 2, 5)


def test_concurrent_passes_never_duplicate_nor_exceed_max_parallel(kube, namespace, kubelet, tmp_path):
    path = write_sweep(tmp_path, LRS, max_parallel=2)
    start, results = threading.Barrier(4), []

    def racer():
        start.wait()
        results.append(one_pass(kube, namespace, path))
    threads = [threading.Thread(target=racer) for _ in range(4)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]

    created = [run_id for r in results for run_id in r.created]
    assert (len(results), sorted(created), len(jobs(kube, namespace))) == (4, sorted(jobs(kube, namespace)), 5)
    assert len(unsuspended(kube, namespace)) == 2
    for run_id in unsuspended(kube, namespace):
        finish(kube, namespace, kubelet, run_id, 0.8)

    start, results = threading.Barrier(4), []
    threads = [threading.Thread(target=racer) for _ in range(4)]
    [t.start() for t in threads]
    [t.join(120) for t in threads]
    assert ([r.created for r in results], len(unsuspended(kube, namespace))) == ([[]] * 4, 2)


def test_two_launch_sweep_processes_at_once_create_each_trial_once(kube, namespace, tmp_path):
    path = write_sweep(tmp_path, LRS, max_parallel=3)
    command = [sys.executable, "-m", "launcher", "sweep", str(path), "-o", "json", "--namespace", namespace,
               "--kubeconfig", str(kube.kubeconfig)]
    runners = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [r.communicate(timeout=180) for r in runners]
    assert [r.returncode for r in runners] == [0, 0], [err for _, err in outputs]
    docs = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    created = sorted(t["run_id"] for d in docs for t in d["trials"] if t["created"])
    assert (created, len(unsuspended(kube, namespace))) == (sorted(jobs(kube, namespace)), 3)
    assert len(created) == 5


def test_a_preempted_trial_is_the_same_run(kube, namespace, kubelet, tmp_path):
    path = write_sweep(tmp_path, LRS[:2], max_parallel=1)
    first = one_pass(kube, namespace, path)
    [running] = [r for r, s in first.states.items() if s == "active"]
    uid = jobs(kube, namespace)[running].metadata.uid
    pod = kubelet.running(running, 0)
    kubelet.shut_down_node(pod, message=termination_message(75, "requeue: stopped at step 5 on SIGTERM", 5))
    until(lambda: any(p.metadata.uid != pod.metadata.uid and p.status.phase == "Running"
                      for p in kubelet.pods(running, 0)), 60, "the Job controller's replacement pod")

    after = one_pass(kube, namespace, path)
    assert (after.created, after.states) == ([], first.states)
    assert (jobs(kube, namespace)[running].metadata.uid, len(jobs(kube, namespace))) == (uid, 2)


def test_an_edited_sweep_reports_the_old_trial_as_orphaned(kube, namespace, tmp_path):
    path = write_sweep(tmp_path, [1.0e-5], max_parallel=1)
    [old] = one_pass(kube, namespace, path).created
    write_sweep(tmp_path, [2.0e-5], max_parallel=1)
    edited = one_pass(kube, namespace, path)
    assert (edited.orphans, sorted(jobs(kube, namespace))) == ([old], sorted([old, *edited.created]))
    assert edited.states == {edited.created[0]: "waiting"}


def test_the_launcher_role_may_reconcile_a_sweep(kube, namespace, launcher_api, tmp_path):  # noqa: F811
    """manifests/rbac.yaml grants what a pass needs: the first pass creates the slot ConfigMap and replaces
    it to claim the one slot."""
    path = write_sweep(tmp_path, LRS[:3], max_parallel=1)
    loaded, trials = load_trials(path, namespace)
    as_launcher = Kube(launcher_api, namespace)
    first = reconcile(as_launcher, loaded.sweep.name, trials, 1)
    assert sorted(first.states.values()) == ["active", "waiting", "waiting"]
    assert reconcile(as_launcher, loaded.sweep.name, trials, 1).states == first.states


def test_sweep_status_ranks_by_the_metric_and_exits_3_until_every_trial_ended(kube, namespace, kubelet, tmp_path):
    path = write_sweep(tmp_path, LRS[:3], max_parallel=3)
    run_ids = sorted(one_pass(kube, namespace, path).created)
    where = ["--namespace", namespace, "--kubeconfig", str(kube.kubeconfig)]

    def status() -> tuple[int, dict]:
        result = subprocess.run([sys.executable, "-m", "launcher", "sweep", "status", str(path), "-o", "json",
                                 *where], cwd=ROOT, capture_output=True, text=True, timeout=120)
        return result.returncode, json.loads(result.stdout.splitlines()[-1])

    for run_id, accuracy in zip(run_ids[:2], (0.7, 0.9)):
        finish(kube, namespace, kubelet, run_id, accuracy)
    code, doc = status()
    assert (code, doc["state"]) == (3, "Running")
    assert [(t["run_id"], t["state"], t["metric"]) for t in doc["trials"]] == [
        (run_ids[1], "Succeeded", 0.9), (run_ids[0], "Succeeded", 0.7), (run_ids[2], "Running", None)]

    finish(kube, namespace, kubelet, run_ids[2], 0.8)
    code, doc = status()
    assert (code, doc["state"], [t["metric"] for t in doc["trials"]]) == (0, "Succeeded", [0.9, 0.8, 0.7])
    assert {(t["attempts"], t["preemptions"]) for t in doc["trials"]} == {(1, 0)}


@pytest.mark.parametrize("trials", [3, 30])
def test_a_steady_pass_costs_the_same_api_calls_whatever_the_number_of_trials(kube, namespace, tmp_path, trials):
    """Once every trial exists, a pass is one list of Jobs and one read of the slot ConfigMap."""
    path = write_sweep(tmp_path, [round(1.0e-5 * (i + 1), 7) for i in range(trials)], max_parallel=2)
    loaded, expanded = load_trials(path, namespace)
    counted = Kube(kube.api, namespace)
    reconcile(counted, loaded.sweep.name, expanded, 2)
    counted.calls = 0
    steady = reconcile(counted, loaded.sweep.name, expanded, 2)
    assert (counted.calls, steady.created, len(steady.states)) == (2, [], trials)


def test_wait_reconciles_until_every_trial_has_ended(kube, namespace, kubelet, tmp_path):
    """--wait: each pass starts the next trial as the previous one's slot frees; exit 0 once all succeeded."""
    from launcher.cluster.commands import Target
    from launcher.cli.sweep import sweep

    path = write_sweep(tmp_path, LRS[:2], max_parallel=1)
    lines, outcome = [], []
    target = Target(namespace, None, kube.kubeconfig, tmp_path / "runs")
    waiter = threading.Thread(target=lambda: outcome.append(sweep(target, path, False, True, "json", lines.append,
                                                                  interval=0.2)))
    waiter.start()
    for accuracy in (0.6, 0.7):
        run_id = until(lambda: next(iter(unsuspended(kube, namespace)), None), 60, "a trial holding the slot")
        finish(kube, namespace, kubelet, run_id, accuracy)
    waiter.join(60)
    passes = [json.loads(line) for line in lines]
    assert (outcome, passes[-1]["done"], [t["state"] for t in passes[-1]["trials"]]) == \
        ([0], True, ["Succeeded", "Succeeded"])
    assert max(sum(t["state"] == "active" for t in p["trials"]) for p in passes) == 1


def test_with_a_kueue_queue_every_trial_waits_for_kueue_and_no_slots_are_kept(kube, namespace, tmp_path):
    path = write_sweep(tmp_path, LRS[:3], max_parallel=1)
    text = yaml.safe_load(path.read_text())
    text["base"]["overrides"]["scheduling.queue"] = "training"
    path.write_text(yaml.safe_dump(text))
    first = one_pass(kube, namespace, path)
    assert (sorted(first.created), set(first.states.values())) == (sorted(first.states), {"queued"})
    assert {(j.spec.suspend, j.metadata.labels["kueue.x-k8s.io/queue-name"])
            for j in jobs(kube, namespace).values()} == {(True, "training")}
    config_maps = kube.core.list_namespaced_config_map(namespace, label_selector="kubetrain.dev/sweep=lr").items
    owned = sorted(c.metadata.owner_references[0].name for c in config_maps if c.metadata.owner_references)
    [sweeps_own] = [c for c in config_maps if not c.metadata.owner_references]
    assert owned == sorted(first.created)
    assert (json.loads(sweeps_own.data["active"]), set(json.loads(sweeps_own.data["trials"]))) == \
        ({}, set(first.created))  # no slots claimed; the trials are recorded
