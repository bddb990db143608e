"""Reconcile a cluster toward a sweep's trials: create the missing ones, keep at most `max_parallel` unsuspended,
and never create a trial again once it has ended.

Every call is one pass (`reconcile`); CI schedules call it again and again, and two calls may overlap, also
with different versions of the sweep file:

1. read the sweep's ConfigMap `<sweep>-slots` (launcher/sweeps/ledger.py: slot claims and trial records),
   then list the sweep's Jobs (one list, by the kubetrain.dev/sweep label, whatever the number of trials);
2. record what is new (a Job that ended: its state, reason and metrics, from its pods, listed only then; a
   trial whose Job vanished before anyone saw it end: Gone) and claim slots (ledger.assign), in one write
   with the resourceVersion just read. A concurrent writer makes the API server answer 409 Conflict; the
   pass then starts over from step 1. So two passes never hand out more than max_parallel slots between them;
3. create each missing trial that has no recorded end through submit.submit (a 409 on create means another
   pass made it: it is reported, never duplicated), complete a trial whose creation was cut off
   (submit.complete: its ConfigMap and Service first), and unsuspend a complete trial that holds a slot, after
   reading the slots once more; then record the trials it created.

A trial's identity is its Job's name, so a preempted trial (its pods replaced by the Job controller) is the
same run, never a new trial. Jobs of the sweep whose name no trial has any more (the sweep file was edited)
are reported as orphans and left alone. With a Kueue queue (scheduling.queue) every trial is created with the
queue label once complete and Kueue admits them: no slot claims (the records are kept all the same).
"""

from dataclasses import dataclass

from ..cluster.api import ClusterError, Kube
from ..cluster.submit import by_kind, complete, incomplete, submit
from ..config.identity import SWEEP_LABEL
from ..render.manifests import render
from . import ledger
from .expand import Trial
from .ledger import ended

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


@dataclass(frozen=True)
class Pass:
    """What one reconcile pass found and did. `states`: run id -> Succeeded | Failed | Gone | active |
    waiting | queued; `created`: run ids this pass created; `orphans`: the sweep's Jobs no trial names;
    `claims`: ConfigMap writes refused with 409 before one succeeded (0 without contention)."""

    states: dict[str, str]
    created: list[str]
    orphans: list[str]
    claims: int = 0

    @property
    def done(self) -> bool:
        """Every trial has ended."""
        return all(state in ledger.ENDED for state in self.states.values())


def list_jobs(kube: Kube, sweep: str) -> dict[str, dict]:
    """The sweep's Jobs by name: one list call."""
    return {j["metadata"]["name"]: j for j in kube.jobs(f"{SWEEP_LABEL}={sweep}")}


def pods_by_job(kube: Kube, sweep: str) -> dict[str, list[dict]]:
    """The sweep's pods by Job name: one list call."""
    grouped: dict[str, list[dict]] = {}
    for pod in kube.pods(f"{SWEEP_LABEL}={sweep}"):
        grouped.setdefault((pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL, ""), []).append(pod)
    return grouped


@dataclass(frozen=True)
class Seen:
    """Step 1-2 of a pass: the slot holders, the trials' records and the Jobs listed, as written."""

    held: dict[str, float]
    known: dict[str, dict]
    jobs: dict[str, dict]
    refused: int


def claim(kube: Kube, sweep: str, trials: list[Trial], max_parallel: int | None) -> Seen:
    """Steps 1-2 (module docstring); `max_parallel` None: a Kueue sweep, no claims. Raises ClusterError after
    ledger.WRITE_TRIES refusals in a row."""
    for refused in range(ledger.WRITE_TRIES):
        slots = ledger.read_slots(kube, sweep)
        jobs = list_jobs(kube, sweep)  # after the read: see ledger.py
        known = ledger.records(slots)
        pods = pods_by_job(kube, sweep) if ledger.newly_ended(known, jobs) else {}
        known = {**known, **ledger.observe(known, jobs, pods)}
        current = ledger.claims(slots)
        held = {} if max_parallel is None else ledger.assign(current, trials, jobs, known, max_parallel,
                                                             ledger.now())
        if held == current and known == ledger.records(slots):
            return Seen(held, known, jobs, refused)
        try:
            ledger.write(kube, slots, held, known)
            return Seen(held, known, jobs, refused)
        except ClusterError as exc:
            if exc.status != 409:
                raise
    raise ClusterError(f"sweep {sweep}: the ConfigMap {ledger.slots_name(sweep)} changed {ledger.WRITE_TRIES} times "
                       f"while this pass wrote it; try again")


def reconcile(kube: Kube, sweep: str, trials: list[Trial], max_parallel: int) -> Pass:
    """One pass (see the module docstring). `trials`: the expansion (launcher/sweeps/expand.py), all of one
    namespace, `kube`'s. Raises ClusterError for refused calls."""
    queue = bool(trials and trials[0].experiment.scheduling.queue)
    seen = claim(kube, sweep, trials, None if queue else max_parallel)
    states, created = {}, []
    for trial in trials:
        job = seen.jobs.get(trial.run_id)
        if job is None and (end := ledger.recorded_end(seen.known.get(trial.run_id))):
            states[trial.run_id] = end  # ended, and its Job removed since: never created again
            continue
        job, made = _ensure(kube, sweep, trial, job, trial.run_id in seen.held)
        states[trial.run_id] = ended(job) or ("queued" if queue else "active" if not job["spec"].get("suspend")
                                              else "waiting")
        created += [trial.run_id] if made else []
    if created:
        ledger.record_trials(kube, sweep, {run_id: {"state": ledger.CREATED} for run_id in created})
    orphans = sorted(set(seen.jobs) - set(states))
    return Pass(states, created, orphans, seen.refused)


def _ensure(kube: Kube, sweep: str, trial: Trial, job: dict | None, holds_slot: bool) -> tuple[dict, bool]:
    """(the trial's Job, whether this call created it): created (suspended) if missing, completed if its
    creation was cut off, then unsuspended if it holds a slot in a fresh read of the slots (a Kueue-bound Job
    gets its queue label instead: Kueue admits it)."""
    made = False
    if job is None or incomplete(job):
        objects = render(trial.experiment, trial.run_id)
        by_kind(objects)["Job"]["spec"]["suspend"] = True  # unsuspended below, with a fresh look at the slots
        if job is None:
            result = submit(kube, objects)
            job, made = result.job, result.created
        else:
            job = complete(kube, job, by_kind(objects))
    if holds_slot and job["spec"].get("suspend") and not ended(job) and not incomplete(job) \
            and trial.run_id in ledger.claims(ledger.read_slots(kube, sweep)):
        job = kube.patch_job(trial.run_id, {"spec": {"suspend": False}})
    return job, made
