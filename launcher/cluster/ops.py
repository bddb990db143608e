"""Run operations on a cluster: status, list, cancel, resume. Each reads by label in a constant number of
calls (a Job or the Jobs, then the pods), never one call per pod."""

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from launcher.schema.contract import CONFIG_FILE_NAME

from ..config.identity import MANAGED_BY, SWEEP_LABEL, config_hash
from ..status.model import RunStatus
from .api import ClusterError, Kube
from .records import ClusterRecord
from .runstatus import JOB_NAME_LABEL, run_status
from .submit import Submitted, by_kind, incomplete, submit

if TYPE_CHECKING:
    from ..schema import Experiment

MANAGED = f"app.kubernetes.io/managed-by={MANAGED_BY}"
RESUMABLE = ("Failed", "Cancelled", "Gone")
ENDED = ("Succeeded", "Failed")
ENDED_FIELDS = ("status", "reason", "attempts", "preemptions", "failures", "committed_step", "metrics", "created")


def run_selector(run_id: str) -> str:
    """The label selector of a run's pods (the Job controller's own label)."""
    return f"{JOB_NAME_LABEL}={run_id}"


def read_status(kube: Kube, run_id: str, runs_root: Path | None = None) -> RunStatus | None:
    """The run's status in two calls (get Job, list pods). With `runs_root`, this machine's record
    (records.py) is kept and used: the first time the Job is seen finished, how it ended is written there;
    once the Job is gone (removed by ttlSecondsAfterFinished, or cancelled here), the status comes from it
    (`gone_status`). None when neither the Job nor a record of this namespace exists."""
    job = kube.job(run_id)
    if job is None:
        record = ClusterRecord.load(runs_root, run_id) if runs_root else None
        return gone_status(record) if record and record.namespace == kube.namespace else None
    status = run_status(job, kube.pods(run_selector(run_id)))
    if runs_root:
        note_end(status, runs_root)
    return status


def note_end(status: RunStatus, runs_root: Path) -> None:
    """Write how a finished run ended into this machine's record of it, the first time it is seen (no
    record of this namespace: nothing to do)."""
    record = ClusterRecord.load(runs_root, status.run_id)
    if record and record.namespace == status.namespace and status.status in ENDED \
            and record.ended != ended_fields(status):
        replace(record, ended=ended_fields(status)).save(runs_root)


def ended_fields(status: RunStatus) -> dict:
    """What a record keeps of a finished run (records.py `ended`)."""
    return {key: getattr(status, key) for key in ENDED_FIELDS}


def gone_status(record: ClusterRecord) -> RunStatus:
    """The status of a run whose Job is gone, from this machine's record: Cancelled when cancelled here; how
    it ended when a `launch status` saw it end; else Gone (removed before this machine saw it end)."""
    where = dict(where="cluster", namespace=record.namespace, config_hash=record.config_hash)
    if record.cancelled:
        return RunStatus(record.run_id, "Cancelled", reason="cancelled with `launch cancel`", **where)
    if record.ended:
        fields = {**record.ended, "reason": f"{record.ended.get('reason') or record.ended['status']} (its Job "
                  "was removed after it ended: job.ttl_seconds_after_finished)"}
        return RunStatus(record.run_id, **fields, **where)
    return RunStatus(record.run_id, "Gone", reason=f"its Job was removed (ttlSecondsAfterFinished, or deleted) "
                     f"before this machine saw how it ended; `launch resume {record.run_id}` brings it back (the "
                     f"trainer trains nothing if its final model is committed)", **where)


def list_statuses(kube: Kube) -> list[RunStatus]:
    """Every launch-managed run in the namespace, newest first, in two calls (list Jobs, list pods)."""
    jobs, pods = kube.jobs(MANAGED), kube.pods(MANAGED)
    grouped: dict[str, list[dict]] = {}
    for pod in pods:
        grouped.setdefault((pod["metadata"].get("labels") or {}).get(JOB_NAME_LABEL, ""), []).append(pod)
    statuses = [run_status(job, grouped.get(job["metadata"]["name"], [])) for job in jobs]
    return sorted(statuses, key=lambda s: s.created, reverse=True)


def stored_config(kube: Kube, run_id: str, runs_root: Path) -> str:
    """The resolved config the run was submitted with: its ConfigMap, else this machine's record."""
    if found := kube.config_map(f"{run_id}-config"):
        return found["data"][CONFIG_FILE_NAME]
    if record := ClusterRecord.load(runs_root, run_id):
        return record.config
    raise ClusterError(f"run {run_id}: no Job, no ConfigMap {run_id}-config in namespace {kube.namespace!r} "
                       f"and no record under {runs_root}/{run_id}/: submit it again with `launch train CONFIG "
                       f"--run-id {run_id}`")


def stored_objects(config: str, run_id: str) -> tuple["Experiment", list[dict]]:
    """A run's stored config (YAML text), validated, and the objects it renders to. The config models are
    imported here, on first use, so the commands that only read a run never build them."""
    from ..config.loading import validate
    from ..render.manifests import render

    exp = validate(yaml.safe_load(config), source=f"run {run_id}'s stored config")
    return exp, render(exp, run_id)


def remember(kube: Kube, run_id: str, config: str, runs_root: Path, cancelled: bool = False) -> None:
    """Keep the run's config on this machine (for `resume` once the Job and its ConfigMap are gone)."""
    exp, _ = stored_objects(config, run_id)
    ClusterRecord(run_id, kube.namespace, config_hash(exp), config, cancelled).save(runs_root)


def submit_run(kube: Kube, run_id: str, objects: list[dict], runs_root: Path, dry_run: str = "") -> Submitted:
    """`launch train`: submit (submit.py) and keep the config on this machine, before submitting too (so a
    submission cut off before its ConfigMap exists can still be completed by `launch resume`), unless this
    machine's record holds another config for the run id (then only once the submission went through)."""
    config = by_kind(objects)["ConfigMap"]["data"][CONFIG_FILE_NAME]
    record = ClusterRecord.load(runs_root, run_id) if not dry_run else None
    if not dry_run and (record is None or record.config == config):
        remember(kube, run_id, config, runs_root)
    submitted = submit(kube, objects, dry_run)
    if not dry_run:
        remember(kube, run_id, config, runs_root)
    return submitted


def cancel(kube: Kube, run_id: str, runs_root: Path, timeout: float = 120) -> RunStatus:
    """Delete the Job with foreground propagation (pods, ConfigMap and Service go with it; checkpoints stay)
    and wait until it is gone. Returns the status the run had. ClusterError if there is no such run."""
    before = read_status(kube, run_id)
    if before is None:
        raise ClusterError(f"no run {run_id!r} in namespace {kube.namespace!r} (see `launch list`)")
    remember(kube, run_id, stored_config(kube, run_id, runs_root), runs_root, cancelled=True)
    kube.delete_job(run_id)
    wait_gone(kube, run_id, timeout)
    return before


def wait_gone(kube: Kube, run_id: str, timeout: float, interval: float = 0.5) -> None:
    """Poll until the Job no longer exists (the garbage collector has removed its dependents first)."""
    deadline = time.monotonic() + timeout
    while kube.job(run_id) is not None:
        if time.monotonic() > deadline:
            raise ClusterError(f"Job {run_id} still exists {timeout:g} s after its deletion: its pods are still "
                               f"terminating; `launch status {run_id}` shows them")
        time.sleep(interval)


def resume(kube: Kube, run_id: str, runs_root: Path) -> tuple[RunStatus | None, Submitted | None]:
    """Bring back a Failed, Cancelled or Gone run under the same run id from its stored config, so the trainer
    continues from its newest valid checkpoint. Returns (status before, Submitted or None when the run is
    not resumable: Running, Pending, Queued, Suspended or Succeeded are left as they are). A Job whose
    submission was cut off (submit.incomplete) is completed from the stored config instead; a sweep trial
    stays suspended then (the sweep's next pass unsuspends it when it holds a slot)."""
    job = kube.job(run_id)
    if job is not None and incomplete(job):
        return run_status(job, []), complete_cut(kube, job, runs_root)
    before = read_status(kube, run_id, runs_root)
    if before is not None and before.status not in RESUMABLE:
        return before, None
    config = stored_config(kube, run_id, runs_root)
    if before is not None and before.status == "Failed":
        remember(kube, run_id, config, runs_root)
        kube.delete_job(run_id)
        wait_gone(kube, run_id, timeout=120)
    submitted = submit(kube, stored_objects(config, run_id)[1])
    record = ClusterRecord.load(runs_root, run_id)
    if record and record.cancelled:
        replace(record, cancelled=False).save(runs_root)
    return before, submitted


def complete_cut(kube: Kube, job: dict, runs_root: Path) -> Submitted:
    """Complete the cut-off submission of `job` from its stored config (submit.complete, through submit); a
    sweep trial stays suspended (the sweep's next pass unsuspends it when it holds a slot)."""
    run_id = job["metadata"]["name"]
    _, objects = stored_objects(stored_config(kube, run_id, runs_root), run_id)
    if SWEEP_LABEL in (job["metadata"].get("labels") or {}):
        by_kind(objects)["Job"]["spec"]["suspend"] = True
    return submit(kube, objects)
