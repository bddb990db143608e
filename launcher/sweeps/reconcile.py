"""Reconcile a cluster toward a sweep's trials: create the missing ones, keep at most `max_parallel` unsuspended.

Every call is one pass (`reconcile`); CI schedules call it again and again, and two calls may overlap:

1. list the sweep's Jobs (one list, by the kubetrain.dev/sweep label, whatever the number of trials);
2. claim slots in the sweep's slot ConfigMap `<sweep>-slots` (data.active: JSON list of run ids): drop the
   holders whose Job has ended, add waiting trials (by run id order) up to max_parallel, and write it back
   with the resourceVersion just read. A concurrent writer makes the API server answer 409 Conflict; the
   pass then starts over from step 1. So two passes never hand out more than max_parallel slots between them;
3. create each missing trial through submit.submit (a 409 on create means another pass made it: it is
   reported, never duplicated): unsuspended if it holds a slot, else suspended; unsuspend an existing
   suspended trial that holds a slot.

A trial's identity is its Job's name, so a preempted trial (its pods replaced by the Job controller) is the
same run, never a new trial. Jobs of the sweep whose name no trial has any more (the sweep file was edited)
are reported as orphans and left alone. With a Kueue queue (scheduling.queue) every trial is created
suspended with the queue label and Kueue admits them: no slot ConfigMap.
"""

import json
from dataclasses import dataclass

from ..config.identity import MANAGED_BY, SWEEP_LABEL
from ..render.manifests import render
from .expand import Trial
from ..cluster.api import ClusterError, Kube
from ..cluster.runstatus import condition
from ..cluster.submit import by_kind, submit

SLOTS_SUFFIX = "-slots"
CLAIM_TRIES = 20  # passes that lose the race start over; 20 losses in a row is not a race but a fault


@dataclass(frozen=True)
class Pass:
    """What one reconcile pass found and did. `states`: run id -> Succeeded | Failed | active | waiting |
    queued; `created`: run ids this pass created; `orphans`: the sweep's Jobs no trial names;
    `claims`: slot writes refused with 409 before one succeeded (0 without contention)."""

    states: dict[str, str]
    created: list[str]
    orphans: list[str]
    claims: int = 0

    @property
    def done(self) -> bool:
        """Every trial has ended."""
        return all(state in ("Succeeded", "Failed") for state in self.states.values())


def ended(job: dict | None) -> str:
    """"Succeeded" or "Failed" for a finished Job, "" otherwise (also for None)."""
    if job and condition(job, "Complete"):
        return "Succeeded"
    if job and (condition(job, "Failed") or condition(job, "FailureTarget")):
        return "Failed"
    return ""


def slots_name(sweep: str) -> str:
    """The slot ConfigMap's name: `<sweep>-slots` (no run id ends so: theirs end in 8 hex digits)."""
    return f"{sweep}{SLOTS_SUFFIX}"


def read_slots(kube: Kube, sweep: str) -> dict:
    """The sweep's slot ConfigMap, created empty when missing (a 409 on create: another pass made it)."""
    if found := kube.config_map(slots_name(sweep)):
        return found
    empty = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"active": "[]"},
             "metadata": {"name": slots_name(sweep),
                          "labels": {SWEEP_LABEL: sweep, "app.kubernetes.io/managed-by": MANAGED_BY}}}
    try:
        return kube.create(empty)
    except ClusterError as exc:
        if exc.status != 409:
            raise
    return kube.config_map(slots_name(sweep))


def holders(slots: dict) -> list[str]:
    """The run ids holding a slot, as written in the ConfigMap."""
    return json.loads((slots.get("data") or {}).get("active") or "[]")


def assign(current: list[str], trials: list[Trial], jobs: dict[str, dict], max_parallel: int) -> list[str]:
    """The new holders: current ones whose Job has not ended (or, for a trial, not been created yet), then
    waiting trials in run id order up to `max_parallel`. Pure."""
    ids = {t.run_id for t in trials}
    kept = [r for r in current if (r in jobs and not ended(jobs[r])) or (r not in jobs and r in ids)]
    waiting = [t.run_id for t in trials if t.run_id not in kept and not ended(jobs.get(t.run_id))]
    return kept + waiting[:max(0, max_parallel - len(kept))]


def list_jobs(kube: Kube, sweep: str) -> dict[str, dict]:
    """The sweep's Jobs by name: one list call."""
    return {j["metadata"]["name"]: j for j in kube.jobs(f"{SWEEP_LABEL}={sweep}")}


def claim(kube: Kube, sweep: str, trials: list[Trial], max_parallel: int) -> tuple[list[str], dict[str, dict], int]:
    """(holders, the Jobs listed, refused writes): slots written with a resourceVersion precondition,
    starting over on 409. Raises ClusterError after CLAIM_TRIES refusals in a row."""
    for refused in range(CLAIM_TRIES):
        jobs, slots = list_jobs(kube, sweep), read_slots(kube, sweep)
        active = assign(holders(slots), trials, jobs, max_parallel)
        if active == holders(slots):
            return active, jobs, refused
        slots["data"] = {"active": json.dumps(active)}
        try:
            kube.replace_config_map(slots)  # carries the resourceVersion read above
            return active, jobs, refused
        except ClusterError as exc:
            if exc.status != 409:
                raise
    raise ClusterError(f"sweep {sweep}: the slot ConfigMap {slots_name(sweep)} changed {CLAIM_TRIES} times "
                       f"while this pass wrote it; try again")


def reconcile(kube: Kube, sweep: str, trials: list[Trial], max_parallel: int) -> Pass:
    """One pass (see the module docstring). `trials`: the expansion (launcher/sweeps/expand.py), all of one
    namespace, `kube`'s. Raises ClusterError for refused calls."""
    queue = bool(trials and trials[0].experiment.scheduling.queue)
    if queue:
        active, jobs, refused = [], list_jobs(kube, sweep), 0
    else:
        active, jobs, refused = claim(kube, sweep, trials, max_parallel)
    states, created = {}, []
    for trial in trials:
        job, made = _ensure(kube, trial, jobs.get(trial.run_id), trial.run_id in active)
        states[trial.run_id] = ended(job) or ("queued" if queue else "active" if trial.run_id in active
                                              else "waiting")
        created += [trial.run_id] if made else []
    orphans = sorted(set(jobs) - set(states))
    return Pass(states, created, orphans, refused)


def _ensure(kube: Kube, trial: Trial, job: dict | None, holds_slot: bool) -> tuple[dict, bool]:
    """(the trial's Job, whether this call created it): created if missing, unsuspended if it holds a slot
    (a Kueue-bound Job stays suspended: Kueue admits it)."""
    made = False
    if job is None:
        objects = render(trial.experiment, trial.run_id)
        if not holds_slot:
            by_kind(objects)["Job"]["spec"]["suspend"] = True
        result = submit(kube, objects)
        job, made = result.job, result.created
    if holds_slot and job["spec"].get("suspend") and not ended(job):
        job = kube.patch_job(trial.run_id, {"spec": {"suspend": False}})
    return job, made
