"""`launch sweep status SWEEP`: one row per trial, the best first by the sweep's metric, and the sweep's state.

Two list calls whatever the number of trials: the sweep's Jobs and its pods (both by the kubetrain.dev/sweep
label); each trial's state, attempts, preemptions and final metrics come from runstatus.run_status, the
metrics from its pods' termination messages.
"""

from ..config.identity import SWEEP_LABEL
from .expand import Trial
from .rank import ranked, row, sweep_state
from .schema import Metric
from ..cluster.api import Kube
from ..cluster.runstatus import run_status
from .reconcile import list_jobs

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def trial_row(trial: Trial, job: dict | None, pods: list[dict], metric: Metric | None) -> dict:
    """The trial's row (launcher/sweeps/rank.py); state "Missing" before the trial's Job exists."""
    if job is None:
        return row(trial, "Missing", 0, 0, {}, metric)
    status = run_status(job, pods)
    return row(trial, status.status, status.attempts, status.preemptions, status.metrics, metric)


def sweep_status(kube: Kube, sweep: str, trials: list[Trial], metric: Metric | None) -> dict:
    """{"sweep", "state", "metric", "trials": ranked rows}; raises ClusterError for refused calls."""
    jobs = list_jobs(kube, sweep)
    pods: dict[str, list[dict]] = {}
    for pod in kube.pods(f"{SWEEP_LABEL}={sweep}"):
        pods.setdefault((pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL, ""), []).append(pod)
    rows = [trial_row(t, jobs.get(t.run_id), pods.get(t.run_id, []), metric) for t in trials]
    state, _ = sweep_state(rows)
    return {"sweep": sweep, "state": state, "metric": metric.model_dump() if metric else None,
            "trials": ranked(rows, metric)}
