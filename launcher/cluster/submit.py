"""Submit a run's rendered objects so that no pod starts before its ConfigMap, and never twice.

Order: the Job is created suspended (no pods), then the ConfigMap and Service with a controller owner
reference to it (deleting the Job deletes them), then the Job is unsuspended; a Job bound for a Kueue queue
stays suspended and Kueue admits it. The run id is the Job's name and the config hash its label, so the API
server's own uniqueness of names makes a resubmission idempotent: same hash -> the existing run is reported
(and a half-finished submission completed), another hash -> ClusterError naming both.
"""

import copy
from dataclasses import dataclass

from ..config.identity import HASH_LABEL
from .api import ClusterError, Kube

JOB_API = "batch/v1"


@dataclass(frozen=True)
class Submitted:
    """`job`: the Job as the API server has it (or would have it, after a dry run); `created`: whether this
    call created it; `existed`: whether it was there already (then nothing was sent, dry run or not);
    `dry_run`: "" or "server"."""

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


def suspended(job: dict) -> dict:
    """A copy of the Job manifest with spec.suspend true."""
    out = copy.deepcopy(job)
    out["spec"]["suspend"] = True
    return out


def queued(job: dict) -> bool:
    """Whether the rendered Job waits for Kueue (rendered suspended, with a queue label)."""
    return bool(job["spec"].get("suspend"))


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
        return Submitted(_complete(kube, existing, kinds), created=False, dry_run=dry_run, existed=True)
    if dry_run == "server":
        checked = [kube.create(obj, dry_run=True) for obj in objects]
        return Submitted(checked[-1], created=False, dry_run=dry_run)
    try:
        created = kube.create(suspended(job))
    except ClusterError as exc:  # a concurrent submit, or our own create retried after a dropped answer
        if exc.status != 409:
            raise
        return submit(kube, objects, dry_run)
    _create_owned(kube, created, kinds)
    if not queued(job):
        created = kube.patch_job(job["metadata"]["name"], {"spec": {"suspend": False}})
    return Submitted(created, created=True)


def _create_owned(kube: Kube, job: dict, kinds: dict[str, dict]) -> list[str]:
    """Create the ConfigMap and Service owned by `job`; ones that exist already are left. Returns the kinds
    created."""
    made = []
    for kind in ("ConfigMap", "Service"):
        if kind not in kinds:
            continue
        try:
            kube.create(owned(kinds[kind], job))
            made.append(kind)
        except ClusterError as exc:
            if exc.status != 409:
                raise
    return made


def _complete(kube: Kube, existing: dict, kinds: dict[str, dict]) -> dict:
    """Finish a submission cut off after its Job was created: create what is missing and, if its ConfigMap
    had to be made now, unsuspend it (unless Kueue owns the suspension)."""
    if existing["metadata"].get("deletionTimestamp") or kube.config_map(kinds["ConfigMap"]["metadata"]["name"]):
        return existing
    _create_owned(kube, existing, kinds)
    if existing["spec"].get("suspend") and not queued(kinds["Job"]):
        return kube.patch_job(existing["metadata"]["name"], {"spec": {"suspend": False}})
    return existing
