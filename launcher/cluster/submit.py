"""Submit a run's rendered objects so that no pod starts (nor Kueue admits one) before its ConfigMap and
Service exist, and never twice.

Order: the Job is created suspended, without its Kueue queue label and with the annotation
`kubetrain.dev/submission: incomplete` (no pod, and no Workload for Kueue to admit); then the ConfigMap and
Service with a controller owner reference to it (deleting the Job deletes them); then one PATCH *releases*
it: the annotation is removed and the Job is unsuspended, or given its queue label (Kueue then admits it),
or, for a sweep trial waiting for a slot, left suspended. The run id is the Job's name and the config hash
its label, so the API server's uniqueness of names makes a resubmission idempotent: same hash -> the
existing run is reported, and a submission cut off half-way (the Job still carries the annotation) is
completed by creating whatever is missing and releasing it; another hash -> ClusterError naming both.
"""

import copy
from dataclasses import dataclass

from ..config.identity import HASH_LABEL, LABEL_PREFIX
from .api import ClusterError, Kube
from .runstatus import QUEUE_LABEL

JOB_API = "batch/v1"
SUBMISSION = f"{LABEL_PREFIX}/submission"  # annotation on a Job whose owned objects may not all exist yet
INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class Submitted:
    """`job`: the Job as the API server has it (or would have it, after a dry run); `created`: whether this
    call created it; `existed`: whether it was there already (then nothing was sent, dry run or not, unless
    its submission had been cut off and this call completed it); `dry_run`: "" or "server"."""

    job: dict
    created: bool
    dry_run: str = ""
    existed: bool = False


def by_kind(objects: list[dict]) -> dict[str, dict]:
    """Rendered objects (launcher/render/manifests.py) by kind."""
    return {obj["kind"]: obj for obj in objects}


def owned(obj: dict, job: dict) -> dict:
    """A copy of `obj` with a controller owner reference to the created `job` (blockOwnerDeletion, so a
    foreground delete of the Job waits for it)."""
    ref = {"apiVersion": JOB_API, "kind": "Job", "name": job["metadata"]["name"], "uid": job["metadata"]["uid"],
           "controller": True, "blockOwnerDeletion": True}
    out = copy.deepcopy(obj)
    out["metadata"]["ownerReferences"] = [ref]
    return out


def held(job: dict) -> dict:
    """The Job as first created: suspended, without the queue label, marked incomplete (see the module
    docstring). `job`: the rendered Job (not changed)."""
    out = copy.deepcopy(job)
    out["spec"]["suspend"] = True
    out["metadata"]["labels"] = {k: v for k, v in (out["metadata"].get("labels") or {}).items() if k != QUEUE_LABEL}
    out["metadata"]["annotations"] = {**(out["metadata"].get("annotations") or {}), SUBMISSION: INCOMPLETE}
    return out


def incomplete(job: dict) -> bool:
    """Whether the Job's submission was never completed: its ConfigMap or Service may be missing, and it
    must not run (nor be unsuspended by hand) before `launch resume`, `launch train` or a sweep pass
    completes it. Pure."""
    return ((job.get("metadata") or {}).get("annotations") or {}).get(SUBMISSION) == INCOMPLETE


def queue_of(job: dict) -> str | None:
    """The Kueue queue the rendered Job is bound for (its queue label), or None."""
    return (job["metadata"].get("labels") or {}).get(QUEUE_LABEL)


def release(job: dict) -> dict:
    """The merge patch that completes a submission of rendered `job`: drop the annotation; add the queue label
    (Kueue admits it), else unsuspend it unless the rendered Job is suspended (a sweep trial waiting for a
    slot)."""
    patch: dict = {"metadata": {"annotations": {SUBMISSION: None}}}
    if queue := queue_of(job):
        patch["metadata"]["labels"] = {QUEUE_LABEL: queue}
    elif not job["spec"].get("suspend"):
        patch["spec"] = {"suspend": False}
    return patch


def conflict(existing: dict, wanted: dict) -> str | None:
    """The refusal when run id `wanted` already runs another config; None when the hashes match."""
    have = (existing["metadata"].get("labels") or {}).get(HASH_LABEL, "?")
    want = wanted["metadata"]["labels"][HASH_LABEL]
    if have == want:
        return None
    name = wanted["metadata"]["name"]
    return (f"run {name} already exists in namespace {existing['metadata'].get('namespace')} with config hash "
            f"{have}, and this config hashes to {want}: drop --run-id to get a run id of its own, or "
            f"`launch cancel {name}` first to replace it (its checkpoints are kept)")


def submit(kube: Kube, objects: list[dict], dry_run: str = "") -> Submitted:
    """Create the run (see the module docstring); `dry_run` "server" sends every object with dryRun=All
    and creates nothing. Raises ClusterError for a conflicting run id or a refused object."""
    kinds = by_kind(objects)
    job = kinds["Job"]
    if existing := kube.job(job["metadata"]["name"]):
        if refusal := conflict(existing, job):
            raise ClusterError(refusal)
        return Submitted(complete(kube, existing, kinds), created=False, dry_run=dry_run, existed=True)
    if dry_run == "server":
        checked = [kube.create(obj, dry_run=True) for obj in objects]
        return Submitted(checked[-1], created=False, dry_run=dry_run)
    try:
        created = kube.create(held(job))
    except ClusterError as exc:  # a concurrent submit, or our own create retried after a dropped answer
        if exc.status != 409:
            raise
        return submit(kube, objects, dry_run)
    return Submitted(complete(kube, created, kinds), created=True)


def complete(kube: Kube, job: dict, kinds: dict[str, dict]) -> dict:
    """Finish the submission of `job` (as the API server has it) if it is incomplete: create its missing
    ConfigMap and Service (ones that exist are left), then release it (`release`, from the rendered Job in
    `kinds`). A complete Job, or one being deleted, is returned as it is: what it runs is its own state."""
    if job["metadata"].get("deletionTimestamp") or not incomplete(job):
        return job
    for kind in ("ConfigMap", "Service"):
        if kind in kinds:
            try:
                kube.create(owned(kinds[kind], job))
            except ClusterError as exc:
                if exc.status != 409:
                    raise
    return kube.patch_job(job["metadata"]["name"], release(kinds["Job"]))
