"""Pure: a Job and its pods, as the API server returns them, to the shared run status (launcher/status/model.py).

Input objects are plain dicts in the API's own JSON (camelCase keys, RFC 3339 strings), as
`launcher/cluster/api.py` returns them (`_preload_content=False`, then `json.loads`), so tests feed captured
or hand-written JSON straight in. Shapes: shared/reference/kubernetes-run-status.md sections 1 and 2.
"""

from launcher.schema.contract import (COMPLETION_INDEX_ANNOTATION, CONTAINER_NAME, EXIT_REQUEUE,
                                      parse_termination_message)

from ..config.identity import HASH_LABEL
from ..status.model import Attempt, RunStatus

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_WEBHOOK = 'failed calling webhook "mjob.kb.io"'  # Kueue's Job webhook is down (reference section 6.4)


def condition(obj: dict, kind: str) -> dict | None:
    """The object's status condition of type `kind` when its status is "True"; else None."""
    return next((c for c in (obj.get("status") or {}).get("conditions") or []
                 if c.get("type") == kind and c.get("status") == "True"), None)


def container(pod: dict) -> dict:
    """The trainer container's status ({} before the kubelet reports one)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return next((s for s in statuses if s.get("name") == CONTAINER_NAME), statuses[0] if statuses else {})


def terminated(pod: dict) -> dict:
    """The trainer container's `state.terminated` ({} while it has not ended)."""
    return (container(pod).get("state") or {}).get("terminated") or {}


def pod_index(pod: dict) -> int:
    """The completion index, from the annotation every Indexed Job pod carries."""
    meta = pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(COMPLETION_INDEX_ANNOTATION) \
        or (meta.get("labels") or {}).get(COMPLETION_INDEX_ANNOTATION, "0")
    return int(value)


def is_preempted(pod: dict) -> bool:
    """A failed pod the project's podFailurePolicy ignores: DisruptionTarget, or the trainer's requeue code."""
    if (pod.get("status") or {}).get("phase") != "Failed":
        return False
    return condition(pod, "DisruptionTarget") is not None or terminated(pod).get("exitCode") == EXIT_REQUEUE


def ended(pod: dict) -> str:
    """Why a pod ended, in words ("" while it runs or once it succeeded)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Failed":
        return ""
    done, disruption = terminated(pod), condition(pod, "DisruptionTarget")
    summary = parse_termination_message(done.get("message"))["summary"]
    if disruption:
        cause = f"preempted by {disruption.get('reason')}: {disruption.get('message', '')}".rstrip(": ")
    elif done.get("reason") == "OOMKilled":
        cause = f"OOMKilled (exit {done.get('exitCode')})"
    elif done:
        cause = f"exit code {done.get('exitCode')}"
    else:
        cause = f"{status.get('reason') or 'failed'}: {status.get('message', '')}".rstrip(": ")
    return f"{cause} ({summary})" if summary else cause


def pod_state(pod: dict) -> str:
    """Pending, Running, Terminating, Succeeded or Failed."""
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase in ("Pending", "Running") and (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return phase


def attempts(pods: list[dict]) -> list[Attempt]:
    """Every pod as an Attempt; attempt K is the K-th pod created for its index (creation time, then name)."""
    ordered = sorted(pods, key=lambda p: (pod_index(p), p["metadata"].get("creationTimestamp") or "",
                                          p["metadata"]["name"]))
    out, seen = [], {}
    for pod in ordered:
        index = pod_index(pod)
        seen[index] = seen.get(index, 0) + 1
        done = terminated(pod)
        report = parse_termination_message(done.get("message"))
        out.append(Attempt(index, seen[index], pod_state(pod), pod["metadata"]["name"],
                           (pod.get("spec") or {}).get("nodeName") or "", done.get("exitCode"), is_preempted(pod),
                           ended(pod), report["committed_step"], pod["metadata"].get("creationTimestamp") or "",
                           finished=done.get("finishedAt") or ""))
    return out


def phase(job: dict, history: list[Attempt]) -> tuple[str, str]:
    """(status, reason) of a Job: its terminal conditions first, then suspension, then its pods: Pending
    until a pod of the run has run, Running from then on (also while an index waits for its replacement)."""
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Cancelled", "the Job is being deleted"
    for kind, name in (("Complete", "Succeeded"), ("Failed", "Failed"), ("FailureTarget", "Failed")):
        if found := condition(job, kind):
            return name, f"{found.get('reason', '')}: {found.get('message', '')}".strip(": ")
    if (job.get("spec") or {}).get("suspend"):
        queue = ((job.get("metadata") or {}).get("labels") or {}).get(QUEUE_LABEL)
        return ("Queued", f"waiting in Kueue queue {queue}") if queue else ("Suspended", "spec.suspend is true")
    started = any(a.state in ("Running", "Succeeded", "Failed") for a in history)
    return ("Running", "") if started else ("Pending", "")


def final_metrics(pods: list[dict]) -> dict:
    """The metrics in the termination message of the lowest index's succeeded pod ({} if none)."""
    done = sorted((p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"), key=pod_index)
    reports = (parse_termination_message(terminated(p).get("message"))["metrics"] for p in done)
    return next((m for m in reports if m), {})


def run_status(job: dict, pods: list[dict]) -> RunStatus:
    """The run status of a Job (dict) and every pod labelled with its name (dicts, any order)."""
    meta = job.get("metadata") or {}
    history = attempts(pods)
    status, reason = phase(job, history)
    return RunStatus.from_attempts(
        meta["name"], status, int((job.get("spec") or {}).get("completions") or 1), history, where="cluster",
        namespace=meta.get("namespace", ""), reason=reason, metrics=final_metrics(pods),
        created=meta.get("creationTimestamp") or "", config_hash=(meta.get("labels") or {}).get(HASH_LABEL, ""))
