"""`launch sweep status SWEEP`: one row per trial, the best first by the sweep's metric, and the sweep's state.

Three reads whatever the number of trials: the sweep's ConfigMap (its trial records, launcher/sweeps/ledger.py),
then its Jobs and its pods (both by the kubetrain.dev/sweep label). A trial with a Job gets its state,
attempts, preemptions and final metrics from runstatus.run_status (the metrics from its pods' termination
messages); a trial whose Job is gone gets them from its record. What is new (a Job that ended, a trial whose
Job vanished) is recorded, as a pass records it, so the result outlives the Job.
"""

from ..cluster.api import Kube
from ..cluster.runstatus import run_status
from . import ledger
from .expand import Trial
from .rank import ranked, row, sweep_state
from .reconcile import list_jobs, pods_by_job
from .schema import Metric


def trial_row(trial: Trial, job: dict | None, pods: list[dict], record: dict | None, metric: Metric | None) -> dict:
    """The trial's row (launcher/sweeps/rank.py): from its Job when it exists (an ended Job's state from its
    conditions, also while the TTL controller deletes it), else from its record; "Missing" before either."""
    if job is not None:
        status = run_status(job, pods)
        return row(trial, ledger.ended(job) or status.status, status.attempts, status.preemptions, status.metrics,
                   metric)
    if record and record.get("state") in ledger.ENDED:
        return row(trial, record["state"], record.get("attempts", 0), record.get("preemptions", 0),
                   record.get("metrics") or {}, metric)
    return row(trial, "Missing", 0, 0, {}, metric)


def sweep_status(kube: Kube, sweep: str, trials: list[Trial], metric: Metric | None) -> dict:
    """{"sweep", "state", "metric", "trials": ranked rows}; raises ClusterError for refused calls."""
    known = ledger.records(kube.config_map(ledger.slots_name(sweep)))
    jobs = list_jobs(kube, sweep)  # after the read: see ledger.py
    pods = pods_by_job(kube, sweep)
    known = {**known, **(new := ledger.observe(known, jobs, pods))}
    if new:
        ledger.record_trials(kube, sweep, new)
    rows = [trial_row(t, jobs.get(t.run_id), pods.get(t.run_id, []), known.get(t.run_id), metric) for t in trials]
    state, _ = sweep_state(rows)
    return {"sweep": sweep, "state": state, "metric": metric.model_dump() if metric else None,
            "trials": ranked(rows, metric)}
