"""`launch sweep status SWEEP`: one row per trial, the best first by the sweep's metric, and the sweep's state.

Two list calls whatever the number of trials: the sweep's Jobs and its pods (both by the kubetrain.dev/sweep
label); each trial's state, attempts, preemptions and final metrics come from runstatus.run_status, the
metrics from its pods' termination messages.
"""

from ..identity import SWEEP_LABEL
from ..sweep_expand import Trial
from ..sweep_schema import Metric
from .api import Kube
from .runstatus import run_status
from .sweeps import list_jobs

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
EXIT_DONE, EXIT_FAILED, EXIT_RUNNING = 0, 1, 3


def trial_row(trial: Trial, job: dict | None, pods: list[dict], metric: Metric | None) -> dict:
    """{"run_id", "values", "state", "attempts", "preemptions", "metric"}; state "Missing" before the
    trial's Job exists; "metric": the value of the sweep's metric in the final metrics, else None."""
    if job is None:
        return {"run_id": trial.run_id, "values": trial.values, "state": "Missing", "attempts": 0,
                "preemptions": 0, "metric": None}
    status = run_status(job, pods)
    return {"run_id": trial.run_id, "values": trial.values, "state": status.status, "attempts": status.attempts,
            "preemptions": status.preemptions, "metric": status.metrics.get(metric.name) if metric else None}


def ranked(rows: list[dict], metric: Metric | None) -> list[dict]:
    """Rows with a metric value first, the best first (highest for goal max, lowest for min), then the
    others by run id. Pure."""
    scored = [r for r in rows if isinstance(r["metric"], (int, float))]
    sign = -1 if metric and metric.goal == "max" else 1
    rest = sorted((r for r in rows if r not in scored), key=lambda r: r["run_id"])
    return sorted(scored, key=lambda r: (sign * r["metric"], r["run_id"])) + rest


def sweep_state(rows: list[dict]) -> tuple[str, int]:
    """("Running", 3) until every trial has ended; then ("Failed", 1) if any failed, else ("Succeeded", 0)."""
    if any(r["state"] not in ("Succeeded", "Failed") for r in rows):
        return "Running", EXIT_RUNNING
    if any(r["state"] == "Failed" for r in rows):
        return "Failed", EXIT_FAILED
    return "Succeeded", EXIT_DONE


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
