"""The sweep's own ConfigMap `<sweep>-slots`: who holds a slot, and what became of each trial, kept in the
cluster so that it outlives the trials' Jobs and is shared by every runner.

    data.active: {"<run id>": <claim time, Unix seconds>, ...}   the trials allowed to run (a JSON list of run
                                                                  ids in older sweeps: read as claimed at 0)
    data.trials: {"<run id>": {"state": "created"} | {"state": "Succeeded" | "Failed" | "Gone", "reason",
                  "attempts", "preemptions", "metrics"}, ...}

Every write replaces the ConfigMap with the resourceVersion it was read at, so a concurrent writer makes the
API server answer 409 Conflict and the writer reads again (optimistic concurrency, no lock). The ConfigMap
must be read *before* the sweep's Jobs are listed: a trial recorded `created` was created before that record
was written, so a list made after the read shows its Job unless the Job is really gone.

Pure functions decide (`claims`, `records`, `assign`, `observe`); `read_slots`, `write` and `record_trials`
make the calls.
"""

import json
import time

from ..cluster.api import ClusterError, Kube
from ..cluster.runstatus import condition, run_status
from ..config.identity import MANAGED_BY, SWEEP_LABEL
from .rank import ENDED

SLOTS_SUFFIX = "-slots"
CREATED, GONE = "created", "Gone"
CLAIM_STALE_SECONDS = 600.0  # a claim with no Job yet is another runner's until then (clocks may differ a bit)
WRITE_TRIES = 20  # writers that lose the race read again; 20 losses in a row is not a race but a fault
GONE_REASON = ("its Job was removed (ttlSecondsAfterFinished, or deleted) before any pass or `launch sweep "
               "status` saw how it ended; it is not created again")


def ended(job: dict | None) -> str:
    """"Succeeded" or "Failed" for a finished Job, "" otherwise (also for None)."""
    if job and condition(job, "Complete"):
        return "Succeeded"
    if job and (condition(job, "Failed") or condition(job, "FailureTarget")):
        return "Failed"
    return ""


def slots_name(sweep: str) -> str:
    """The sweep's ConfigMap: `<sweep>-slots` (no run id ends so: theirs end in 8 hex digits)."""
    return f"{sweep}{SLOTS_SUFFIX}"


def read_slots(kube: Kube, sweep: str) -> dict:
    """The sweep's ConfigMap, created empty when missing (a 409 on create: another pass made it)."""
    if found := kube.config_map(slots_name(sweep)):
        return found
    empty = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"active": "{}", "trials": "{}"},
             "metadata": {"name": slots_name(sweep),
                          "labels": {SWEEP_LABEL: sweep, "app.kubernetes.io/managed-by": MANAGED_BY}}}
    try:
        return kube.create(empty)
    except ClusterError as exc:
        if exc.status != 409:
            raise
    return kube.config_map(slots_name(sweep))


def claims(slots: dict | None) -> dict[str, float]:
    """Run id -> claim time of the slot holders."""
    active = json.loads(((slots or {}).get("data") or {}).get("active") or "{}")
    return {run_id: 0.0 for run_id in active} if isinstance(active, list) else active


def records(slots: dict | None) -> dict[str, dict]:
    """Run id -> what the sweep knows of the trial (module docstring)."""
    return json.loads(((slots or {}).get("data") or {}).get("trials") or "{}")


def recorded_end(record: dict | None) -> str:
    """The state a trial's record says it ended in, "" if none."""
    state = (record or {}).get("state", "")
    return state if state in ENDED else ""


def assign(current: dict[str, float], trials: list, jobs: dict[str, dict], known: dict[str, dict],
           max_parallel: int, now: float) -> dict[str, float]:
    """The new holders. A claim is kept while its Job runs; with no Job yet, while its trial is one of
    `trials` (this pass creates it) or the claim is younger than CLAIM_STALE_SECONDS (another runner, maybe of
    another version of the sweep file, is creating it); it is dropped once its Job has ended or its trial's
    end is recorded in `known`. Waiting trials (by run id order) then claim free slots up to `max_parallel`,
    at `now`. A holder is never taken away for a smaller max_parallel. Pure."""
    ids = {t.run_id for t in trials}

    def keep(run_id: str, since: float) -> bool:
        if run_id in jobs:
            return not ended(jobs[run_id])
        return not recorded_end(known.get(run_id)) and (run_id in ids or now - since < CLAIM_STALE_SECONDS)

    kept = {run_id: since for run_id, since in current.items() if keep(run_id, since)}
    waiting = [t.run_id for t in trials if t.run_id not in kept and not ended(jobs.get(t.run_id))
               and not recorded_end(known.get(t.run_id))]
    return {**kept, **{run_id: now for run_id in waiting[:max(0, max_parallel - len(kept))]}}


def newly_ended(known: dict[str, dict], jobs: dict[str, dict]) -> list[str]:
    """Run ids whose Job has ended and whose end is not recorded yet (their pods are needed for metrics)."""
    return [run_id for run_id, job in jobs.items() if ended(job) and recorded_end(known.get(run_id)) != ended(job)]


def observe(known: dict[str, dict], jobs: dict[str, dict], pods: dict[str, list[dict]]) -> dict[str, dict]:
    """The records to write after seeing `jobs` (the sweep's, by name) and `pods` (by Job name): an ended
    Job's state, reason, counts and final metrics; `created` for a live Job not recorded; Gone for a trial
    recorded `created` whose Job no longer exists. Empty when nothing is new. Pure."""
    out = {}
    for run_id, job in jobs.items():
        state, old = ended(job), known.get(run_id) or {}
        if state and recorded_end(old) != state:
            status = run_status(job, pods.get(run_id, []))
            out[run_id] = {"state": state, "reason": status.reason, "attempts": status.attempts,
                           "preemptions": status.preemptions, "metrics": status.metrics}
        elif not state and old.get("state") != CREATED:
            out[run_id] = {"state": CREATED}
    for run_id, old in known.items():
        if old.get("state") == CREATED and run_id not in jobs:
            out[run_id] = {"state": GONE, "reason": GONE_REASON}
    return out


def write(kube: Kube, slots: dict, held: dict[str, float], known: dict[str, dict]) -> dict:
    """Replace the ConfigMap as read (its resourceVersion: a 409 ClusterError if someone wrote since)."""
    slots = {**slots, "data": {**(slots.get("data") or {}), "active": json.dumps(held, sort_keys=True),
                               "trials": json.dumps(known, sort_keys=True)}}
    return kube.replace_config_map(slots)


def record_trials(kube: Kube, sweep: str, updates: dict[str, dict]) -> None:
    """Merge `updates` into the trials' records (read, merge, write; again on 409). A `created` update never
    replaces a record that exists. Raises ClusterError after WRITE_TRIES refusals in a row."""
    for _ in range(WRITE_TRIES):
        slots = read_slots(kube, sweep)
        known = records(slots)
        merged = {**known, **{r: u for r, u in updates.items() if u.get("state") != CREATED or r not in known}}
        if merged == known:
            return
        try:
            write(kube, slots, claims(slots), merged)
            return
        except ClusterError as exc:
            if exc.status != 409:
                raise
    raise ClusterError(f"sweep {sweep}: the ConfigMap {slots_name(sweep)} changed {WRITE_TRIES} times while this "
                       f"command wrote it; try again")


def now() -> float:
    """Unix seconds (claim times: compared across runners, so wall-clock time)."""
    return time.time()
