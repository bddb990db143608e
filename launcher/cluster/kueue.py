"""Pure: why a Job queued in Kueue is not running, from its Workload (kueue.x-k8s.io v1beta1 / v1beta2).

Shapes and messages: shared/reference/kubernetes-run-status.md section 6 and rows 4-6 of its doctor table.
A Workload is found by the label `kueue.x-k8s.io/job-uid=<job uid>`. Its conditions, in the order checked:
Evicted (Preempted: will requeue; Deactivated / InactiveWorkload, PodsReadyTimeout: stopped),
QuotaReserved=False (reason Inadmissible: the queue is missing, inactive or stopped; reason Pending or one of
the granular reasons: not enough quota, or a request above the ClusterQueue's maximum that can never fit).
"""

import re

from .runstatus import condition

JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"
_NEVER_FITS = re.compile(r"> maximum capacity|insufficient quota for \S+ in flavor \S+ in ClusterQueue")
_MORE_NEEDED = re.compile(r"insufficient unused quota (?:in cohort )?for (\S+) in flavor (\S+), (\S+) more needed")


def _false(obj: dict, kind: str) -> dict | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or []
                 if c.get("type") == kind and c.get("status") == "False"), None)


def quota_words(message: str) -> tuple[str, bool]:
    """(plain words, whether it can ever fit) for a QuotaReserved=False message ("couldn't assign flavors to
    pod set main: insufficient unused quota for cpu in flavor default-flavor, 9 more needed")."""
    if _NEVER_FITS.search(message):
        return "the run asks for more than the ClusterQueue's maximum capacity: it can never be admitted", False
    needs = [f"{amount} more {resource} in flavor {flavor}"
             for resource, flavor, amount in _MORE_NEEDED.findall(message)]
    if needs:
        return f"waiting for quota: needs {', '.join(needs)} (admitted when other workloads finish)", True
    return f"waiting for quota: {message}" if message else "waiting for Kueue to consider it", True


def workload_verdict(workload: dict) -> tuple[str, str, bool]:
    """(what, fix, problem) for one Workload."""
    evicted = condition(workload, "Evicted")
    if evicted and evicted.get("reason") == "Preempted":
        return (f"preempted by Kueue: {evicted.get('message', '')}", "nothing to do: it is requeued and resumes from "
                "its checkpoint once admitted again", False)
    if evicted:
        return (f"stopped by Kueue ({evicted.get('reason')}): {evicted.get('message', '')}",
                "reactivate it (kueuectl resume workload, or Workload spec.active=true) once the cause is fixed", True)
    reserved = _false(workload, "QuotaReserved")
    if reserved and reserved.get("reason") == "Inadmissible":
        return (f"Kueue cannot admit it: {reserved.get('message', '')}",
                "create or reactivate the LocalQueue / ClusterQueue, or fix scheduling.queue", True)
    words, fits = quota_words((reserved or {}).get("message", ""))
    return words, "" if fits else "lower resources (nodes, GPUs) or ask for a larger ClusterQueue quota", not fits
