"""Sweep passes that are cut off (the fault proxy drops every try of one write), trials whose Jobs the TTL
controller removes, and passes of two versions of a sweep file: no trial runs without its ConfigMap, none is
created again once it ended, and never more than max_parallel run. Real control plane (tests/cluster)."""

import json
import subprocess
import sys

import pytest
import yaml

from launcher.cluster.api import ClusterError, Kube, connect
from launcher.cluster.retry import RetryPolicy
from launcher.cli.sweep import load_trials
from launcher.schema.contract import termination_message
from launcher.sweeps import ledger
from launcher.sweeps.reconcile import reconcile
from tests.cluster.wait import until
from tests.factory import ROOT
from tests.test_sweep_cluster import LRS, finish, jobs, one_pass, unsuspended, write_sweep

pytestmark = pytest.mark.cluster


def via(proxy, kube, namespace: str, tmp_path) -> Kube:
    """A Kube through the fault proxy that gives up at once (no back-off sleeps)."""
    path = proxy.kubeconfig(tmp_path / "proxy.kubeconfig", kube.control_plane.tokens["admin"], namespace)
    return Kube(connect(path), namespace, RetryPolicy(attempts=2), sleep=lambda _: None)


def cut_pass(proxied: Kube, path, namespace: str) -> None:
    loaded, trials = load_trials(path, namespace)
    with pytest.raises(ClusterError):
        reconcile(proxied, loaded.sweep.name, trials, loaded.sweep.max_parallel)


def test_a_pass_cut_at_a_trials_configmap_is_completed_before_the_trial_is_unsuspended(
        kube, namespace, proxy, tmp_path):
    """Defect 1: the next pass unsuspended the Job, whose pods then mounted a ConfigMap that did not exist."""
    path = write_sweep(tmp_path, LRS[:1], max_parallel=1)
    ledger.read_slots(Kube(kube.api, namespace), "lr")  # the sweep's own ConfigMap exists: only the trial's is cut
    proxy.inject("POST", f"/api/v1/namespaces/{namespace}/configmaps", "drop", times=100)
    cut_pass(via(proxy, kube, namespace, tmp_path), path, namespace)
    [run_id] = jobs(kube, namespace)
    assert (jobs(kube, namespace)[run_id].spec.suspend, unsuspended(kube, namespace)) == (True, [])

    after = one_pass(kube, namespace, path)
    job = jobs(kube, namespace)[run_id]
    config_map = kube.core.read_namespaced_config_map(f"{run_id}-config", namespace)
    assert (after.states, job.spec.suspend) == ({run_id: "active"}, False)
    assert config_map.metadata.owner_references[0].uid == job.metadata.uid


def status_of(kube, namespace: str, path) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "-m", "launcher", "sweep", "status", str(path), "-o", "json",
                             "--namespace", namespace, "--kubeconfig", str(kube.kubeconfig)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    return result.returncode, json.loads(result.stdout.splitlines()[-1])


def removed(kube, namespace: str, run_ids) -> None:
    until(lambda: not set(run_ids) & set(jobs(kube, namespace)), 60, f"the TTL controller to remove {run_ids}")


def with_overrides(path, **overrides):
    doc = yaml.safe_load(path.read_text())
    doc["base"]["overrides"].update(overrides)
    path.write_text(yaml.safe_dump(doc))
    return path


def test_trials_whose_jobs_the_ttl_removed_unseen_are_never_created_again(kube, namespace, kubelet, tmp_path):
    """Defect 2, ttl 0: the Jobs vanish as they end, before any pass sees them; the next passes created
    both trials again (a failed one retrained) and `sweep status` said Missing, exit 3, forever."""
    path = with_overrides(write_sweep(tmp_path, LRS[:2], max_parallel=2), **{"job.ttl_seconds_after_finished": 0})
    first = one_pass(kube, namespace, path)
    succeeded, failed = sorted(first.created)
    kubelet.succeed(kubelet.running(succeeded, 0))
    kubelet.exit(kubelet.running(failed, 0), 2, termination_message(2, "error: bad data"))
    removed(kube, namespace, first.created)

    again = one_pass(kube, namespace, path)
    assert (again.created, again.states, jobs(kube, namespace)) == ([], {succeeded: "Gone", failed: "Gone"}, {})
    code, doc = status_of(kube, namespace, path)
    assert (code, doc["state"], {t["state"] for t in doc["trials"]}) == (1, "Failed", {"Gone"})


def test_a_trial_seen_ended_keeps_its_result_after_the_ttl_removed_its_job(kube, namespace, kubelet, tmp_path):
    """Defect 2: a trial's state and metric come from the sweep's record once its Job is gone."""
    path = write_sweep(tmp_path, LRS[:2], max_parallel=1)
    first = one_pass(kube, namespace, path)
    [done] = [r for r, s in first.states.items() if s == "active"]
    finish(kube, namespace, kubelet, done, 0.9)
    code, seen = status_of(kube, namespace, path)  # `sweep status` sees it end first
    assert (code, seen["trials"][0]["run_id"], seen["trials"][0]["metric"]) == (3, done, 0.9)

    kube.batch.patch_namespaced_job(done, namespace, {"spec": {"ttlSecondsAfterFinished": 0}})
    removed(kube, namespace, [done])
    after = one_pass(kube, namespace, path)
    assert (after.created, after.states[done], done in jobs(kube, namespace)) == ([], "Succeeded", False)
    code, doc = status_of(kube, namespace, path)
    assert (code, [(t["run_id"], t["state"], t["metric"]) for t in doc["trials"]][0]) == (3, (done, "Succeeded", 0.9))


class PausedBeforeCreatingItsJob(Kube):
    """A pass that lets `meanwhile` run (another runner's whole pass) just before it creates its first Job:
    two CI runners at once, interleaved at the worst point, on the real API."""

    def __init__(self, api, namespace: str, meanwhile):
        super().__init__(api, namespace)
        self.meanwhile = meanwhile

    def create(self, obj: dict, dry_run: bool = False) -> dict:
        if obj["kind"] == "Job" and self.meanwhile:
            self.meanwhile, run = None, self.meanwhile
            run()
        return super().create(obj, dry_run)


def test_passes_of_two_versions_of_a_sweep_file_never_exceed_max_parallel(kube, namespace, tmp_path):
    """Defect 4: a pass of the old file dropped the edited file's fresh claim (no Job yet, not one of its own
    trials) and unsuspended its own trial, while the edited file's pass went on to unsuspend its trial too."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    old_path, new_path = write_sweep(old, [1.0e-5], max_parallel=1), write_sweep(new, [2.0e-5], max_parallel=1)
    old_passes = []
    loaded, trials = load_trials(new_path, namespace)
    paused = PausedBeforeCreatingItsJob(kube.api, namespace,
                                        lambda: old_passes.append(one_pass(kube, namespace, old_path)))
    new_pass = reconcile(paused, loaded.sweep.name, trials, 1)

    assert (list(old_passes[0].states.values()), list(new_pass.states.values())) == (["waiting"], ["active"])
    assert unsuspended(kube, namespace) == new_pass.created
