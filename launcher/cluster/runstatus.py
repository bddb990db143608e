"""Pure: a Job and its pods, as the API server returns them, to the shared run status (launcher/status/model.py).

Input objects are plain dicts in the API's own JSON (camelCase keys, RFC 3339 strings), as
`launcher/cluster/api.py` returns them (`_preload_content=False`, then `json.loads`), so tests feed captured
or hand-written JSON straight in. Shapes: shared/reference/kubernetes-run-status.md sections 1 and 2.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone

from launcher.schema.contract import (COMPLETION_INDEX_ANNOTATION, CONTAINER_NAME, EXIT_REQUEUE,
                                      parse_termination_message)

from ..config.identity import HASH_LABEL
from ..status.model import Attempt, RunStatus
from .backoff import preemption_cost_note

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
KUEUE_WEBHOOK = 'failed calling webhook "mjob.kb.io"'  # Kueue's Job webhook is down (reference section 6.4)
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"  # removed once the Job has counted the pod's end
FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"  # both only with backoffLimitPerIndex
IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
STUCK_AFTER_SECONDS = 30  # past the end of its grace period, a reachable kubelet has long reported the pod's end
RAN = ("Running", "Stopping", "Stuck", "Succeeded", "Failed")
GONE_IGNORED = "pod gone before its end was seen (evicted, drained or deleted); the Job did not count it"
GONE_FAILED = "pod gone before its end was seen; the Job counted it as a failure"


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


def stamp_seconds(stamp: str) -> float:
    """Seconds since the epoch of an RFC 3339 time as the API server writes it ("2026-04-26T18:35:42Z")."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def terminating_since(pod: dict) -> str:
    """When the pod was deleted (RFC 3339): its deletionTimestamp is the end of its grace period, so the
    deletion was asked deletionGracePeriodSeconds before it; "" for a pod not being deleted."""
    meta = pod.get("metadata") or {}
    deadline = meta.get("deletionTimestamp")
    if not deadline:
        return ""
    asked = stamp_seconds(deadline) - int(meta.get("deletionGracePeriodSeconds") or 0)
    return datetime.fromtimestamp(asked, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_stuck(pod: dict, now: float | None) -> bool:
    """A deleted pod still Pending or Running STUCK_AFTER_SECONDS past the end of its grace period: a kubelet
    would have killed it and reported it by then, so its node is not reporting (unreachable or down). With
    podReplacementPolicy: Failed its replacement waits for it for ever (kubernetes-sigs/jobset#576).
    `now`: seconds since the epoch; None never calls a pod stuck."""
    deadline = (pod.get("metadata") or {}).get("deletionTimestamp")
    running = (pod.get("status") or {}).get("phase") in (None, "Pending", "Running")
    return bool(now is not None and deadline and running and now > stamp_seconds(deadline) + STUCK_AFTER_SECONDS)


def pod_state(pod: dict, now: float | None = None) -> str:
    """Pending, Running, Stopping (deleted after it ran), Terminating (deleted before it ran), Stuck
    (see is_stuck), Succeeded or Failed."""
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    if phase in ("Pending", "Running") and (pod.get("metadata") or {}).get("deletionTimestamp"):
        if is_stuck(pod, now):
            return "Stuck"
        return "Stopping" if phase == "Running" else "Terminating"
    return phase


def annotated_attempt(pod: dict) -> int:
    """The attempt number the Job controller's per-index failure counts give (failures + ignored failures
    + 1), 0 when the pod has no count (the counts are written only with backoffLimitPerIndex)."""
    notes = (pod.get("metadata") or {}).get("annotations") or {}
    if FAILURE_COUNT not in notes:
        return 0
    return int(notes[FAILURE_COUNT]) + int(notes.get(IGNORED_FAILURE_COUNT) or 0) + 1


def attempt_of(pod: dict, now: float | None = None) -> Attempt:
    """One existing pod as an Attempt (its number is set by `attempts`)."""
    done = terminated(pod)
    report = parse_termination_message(done.get("message"))
    return Attempt(pod_index(pod), annotated_attempt(pod), pod_state(pod, now), pod["metadata"]["name"],
                   (pod.get("spec") or {}).get("nodeName") or "", done.get("exitCode"), is_preempted(pod),
                   ended(pod), report["committed_step"], pod["metadata"].get("creationTimestamp") or "",
                   finished=done.get("finishedAt") or "")


def counted_failures(job: dict, pods: list[dict]) -> int:
    """Failures the Job controller has counted or is counting: status.failed (pods whose tracking finalizer is
    removed; ignored ones excluded) plus the failed, not ignored pods it has not added yet (still carrying the
    finalizer, or listed in uncountedTerminatedPods). It outlives the pod objects."""
    status = job.get("status") or {}
    uncounted = set((status.get("uncountedTerminatedPods") or {}).get("failed") or [])
    def not_counted_yet(pod: dict) -> bool:
        meta = pod["metadata"]
        return meta.get("uid") in uncounted or TRACKING_FINALIZER in (meta.get("finalizers") or [])
    pending = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed" and not is_preempted(p)
               and not_counted_yet(p)]
    return int(status.get("failed") or 0) + len(pending)


def attempts(pods: list[dict], now: float | None = None, seen: Sequence[Attempt] = (),
             counted: int = 0) -> list[Attempt]:
    """Every pod as an Attempt, with the pods `seen` before whose objects are gone. Attempt K of an index is
    its K-th pod by creation time; a number once given (`seen`) or counted by the Job controller (see
    annotated_attempt) is kept, so numbers never shift when older pods vanish. `counted`: the Job's failure
    count (counted_failures), which says how many vanished pods whose end nobody saw were failures."""
    current = [attempt_of(p, now) for p in pods]
    names = {a.pod for a in current}
    numbered = {a.pod: a.attempt for a in seen}
    gone = [vanished(a) for a in seen if a.pod not in names]
    merged = [replace(a, attempt=max(a.attempt, numbered.get(a.pod, 0))) for a in current] + gone
    out = []
    for index in sorted({a.index for a in merged}):
        previous = 0
        for a in sorted((a for a in merged if a.index == index), key=lambda a: (a.created, a.pod)):
            previous = max(previous + 1, a.attempt)
            out.append(replace(a, attempt=previous))
    return _judge_unseen_ends(out, counted)


def vanished(seen: Attempt) -> Attempt:
    """A pod seen before whose object is gone: its end as seen, or Gone when nobody saw it end."""
    if seen.state in ("Failed", "Succeeded", "Gone"):
        return replace(seen, gone=True)
    return replace(seen, state="Gone", gone=True)


def _judge_unseen_ends(history: list[Attempt], counted: int) -> list[Attempt]:
    """Gone pods nobody saw end were failures as far as the Job counted more failures than were seen (oldest
    first), else ignored failures: an eviction, drain, deletion or preemption (DisruptionTarget)."""
    known = sum(a.state == "Failed" and not a.preempted for a in history)
    unseen = sorted((a for a in history if a.state == "Gone"), key=lambda a: (a.created, a.pod))
    failures = {a.pod for a in unseen[:max(0, counted - known)]}
    return [replace(a, preempted=a.pod not in failures, ended=GONE_FAILED if a.pod in failures else GONE_IGNORED)
            if a.state == "Gone" else a for a in history]


def phase(job: dict, history: list[Attempt]) -> tuple[str, str]:
    """(status, reason) of a Job: its terminal conditions first, then suspension, then its pods: Pending
    until a pod of the run has run, Running from then on (also while an index waits for its replacement,
    or its only pod is stopping; the reason then names a stopping or stuck index)."""
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Cancelled", "the Job is being deleted"
    for kind, name in (("Complete", "Succeeded"), ("Failed", "Failed"), ("FailureTarget", "Failed")):
        if found := condition(job, kind):
            return name, f"{found.get('reason', '')}: {found.get('message', '')}".strip(": ")
    if (job.get("spec") or {}).get("suspend"):
        queue = ((job.get("metadata") or {}).get("labels") or {}).get(QUEUE_LABEL)
        return ("Queued", f"waiting in Kueue queue {queue}") if queue else ("Suspended", "spec.suspend is true")
    status = job.get("status") or {}
    ran = any(a.state in RAN or a.gone for a in history) or status.get("failed") or status.get("succeeded")
    return ("Running", _stopping(history)) if ran else ("Pending", "")


def _stopping(history: list[Attempt]) -> str:
    """The reason of a running run whose newest pod of some index is stuck or stopping ("" if none)."""
    newest: dict[int, Attempt] = {}
    for a in sorted(history, key=lambda a: a.attempt):
        newest[a.index] = a
    stuck = [a for a in newest.values() if a.state == "Stuck"]
    if stuck:
        return "; ".join(f"index {a.index} is stuck: pod {a.pod} was deleted and has not stopped on node "
                         f"{a.node or '(none)'}, so its replacement cannot start (see `launch doctor`)" for a in stuck)
    stopping = [a for a in newest.values() if a.state == "Stopping"]
    return "; ".join(f"index {a.index} is stopping (pod {a.pod}{': ' + a.ended if a.ended else ''}); its "
                     "replacement starts once it has stopped" for a in stopping)


def final_metrics(pods: list[dict]) -> dict:
    """The metrics in the termination message of the lowest index's succeeded pod ({} if none)."""
    done = sorted((p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"), key=pod_index)
    reports = (parse_termination_message(terminated(p).get("message"))["metrics"] for p in done)
    return next((m for m in reports if m), {})


def run_status(job: dict, pods: list[dict], now: float | None = None, seen: Sequence[Attempt] = ()) -> RunStatus:
    """The run status of a Job (dict) and every pod labelled with its name (dicts, any order). `now` (seconds
    since the epoch) lets a deleted pod be called Stuck; `seen`: this Job's attempts shown before (its pods
    that are gone stay in the history, and keep their numbers)."""
    meta = job.get("metadata") or {}
    counted = counted_failures(job, pods)
    history = attempts(pods, now, seen, counted)
    status, reason = phase(job, history)
    return RunStatus.from_attempts(
        meta["name"], status, int((job.get("spec") or {}).get("completions") or 1), history,
        counted_failures=counted, where="cluster",
        namespace=meta.get("namespace", ""), reason=reason, metrics=final_metrics(pods),
        created=meta.get("creationTimestamp") or "", config_hash=(meta.get("labels") or {}).get(HASH_LABEL, ""),
        notes=tuple(filter(None, [preemption_cost_note(job, pods)])) if status == "Running" else ())
