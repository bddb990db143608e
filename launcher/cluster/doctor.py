"""Pure: why a run is not progressing, in plain words with the fix, from its Job, pods and events.

Inputs are API JSON dicts (launcher/cluster/api.py). Signals and their order follow the doctor table of
shared/reference/kubernetes-run-status.md (appendix): terminal Job reasons first, then suspension and
queueing, then each live pod's scheduling, image, config and volume problems, then ended pods (OOM, crash,
preemption), then pods stuck terminating on a node that does not report, then an index with no pod: the
Job controller's refusals to create it (FailedCreate: a missing ServiceAccount, a ResourceQuota, a
LimitRange, Pod Security, a webhook; pod_refusal.py) or its pod-failure backoff. Every finding is a Finding;
only a run every index of which has a pod (or is done) gets the one finding "healthy", with `problem=False`.
"""

from dataclasses import dataclass

from launcher.schema.contract import EXIT_BAD_CONFIG, parse_termination_message

from .backoff import preemption_cost_note
from .kueue import workload_verdict
from .pod_refusal import refusal_words
from .runstatus import (KUEUE_WEBHOOK, QUEUE_LABEL, condition, container, is_preempted, is_stuck, pod_index,
                        stamp_seconds, terminated, terminating_since)
from .scheduling import explain
from .submit import incomplete

BACKOFF_BASE, BACKOFF_CAP = 10, 600  # the Job controller's pod-failure backoff, seconds


@dataclass(frozen=True)
class Finding:
    """`what`: one line; `fix`: what to do; `evidence`: the API text it rests on; `problem`: False only for
    "healthy" and for states that are fine to wait out (queued, backoff after preemptions)."""

    what: str
    fix: str = ""
    evidence: str = ""
    problem: bool = True
    pod: str = ""


def event_time(event: dict) -> str:
    """Sort key: series.lastObservedTime, eventTime (scheduler events carry only these), lastTimestamp,
    then metadata.creationTimestamp (3.5)."""
    return ((event.get("series") or {}).get("lastObservedTime") or event.get("eventTime")
            or event.get("lastTimestamp") or (event.get("metadata") or {}).get("creationTimestamp") or "")


def events_of(events: list[dict], uid: str) -> list[dict]:
    """The events about one object, newest last."""
    return sorted((e for e in events if (e.get("involvedObject") or {}).get("uid") == uid), key=event_time)


def job_findings(job: dict, pods: list[dict], events: list[dict], workloads: list[dict] | None = None
                 ) -> list[Finding]:
    """Terminal conditions, Kueue and suspension (rows 1-6). `workloads`: the Job's Kueue Workloads, None when
    they could not be read (no Kueue, or no RBAC for them)."""
    for event in events_of(events, job["metadata"].get("uid", "")):
        if KUEUE_WEBHOOK in (event.get("message") or ""):
            return [Finding("Kueue's webhook is unreachable: the cluster cannot accept or start Jobs right now",
                            "the Kueue controller is down, not your run: ask the cluster admins", event["message"])]
    failed = condition(job, "Failed") or condition(job, "FailureTarget")
    if failed:
        return [_failed(failed, pods)]
    if incomplete(job):
        return [Finding("the run's submission was cut off before its ConfigMap and Service were all created, so "
                        "it is held suspended", f"`launch resume {job['metadata']['name']}` completes it (do not "
                        "unsuspend it by hand: its pods would wait for a missing ConfigMap)")]
    if (job.get("spec") or {}).get("suspend"):
        queue = ((job.get("metadata") or {}).get("labels") or {}).get(QUEUE_LABEL)
        latest = events_of(events, job["metadata"].get("uid", ""))[-1:] or [{}]
        if queue:
            return [_queued(job, queue, latest[0].get("message", ""), workloads)]
        return [Finding("the Job is suspended (spec.suspend: true), so no pod runs",
                        f"`launch resume {job['metadata']['name']}` or unsuspend it")]
    return []


def _queued(job: dict, queue: str, event: str, workloads: list[dict] | None) -> Finding:
    """A Job suspended for Kueue: its Workload's verdict when readable, else that it waits in the queue."""
    if workloads:
        what, fix, problem = workload_verdict(workloads[0])
        return Finding(f"queue {queue}: {what}", fix, event, problem=problem)
    hint = "no Workload yet: is Kueue running?" if workloads == [] else \
        f"kubectl get workloads -n {job['metadata'].get('namespace')}"
    return Finding(f"waiting in Kueue queue {queue} for quota", f"nothing to fix unless it waits too long ({hint})",
                   event, problem=False)


def _failed(found: dict, pods: list[dict]) -> Finding:
    reason, message = found.get("reason", ""), found.get("message", "")
    if reason == "PodFailurePolicy" and f"exit code {EXIT_BAD_CONFIG}" in message:
        said = next((parse_termination_message(terminated(p).get("message"))["summary"] for p in pods
                     if p["metadata"]["name"] in message), "")
        return Finding(f"the trainer refused its config or data (exit {EXIT_BAD_CONFIG}): "
                       f"{said or 'see `launch logs`'}", "fix the config or the data; retrying cannot help", message)
    if reason == "BackoffLimitExceeded":
        return Finding("the Job failed: its pods crashed more often than job.backoff_limit allows",
                       "see the crashes below and `launch logs RUN --attempt K`; then `launch resume RUN`", message)
    if reason == "DeadlineExceeded":
        return Finding("the Job failed: it ran longer than job.active_deadline_seconds",
                       "raise job.active_deadline_seconds, then `launch resume RUN` (it continues from its "
                       "checkpoint; the timer restarts)", message)
    return Finding(f"the Job failed: {reason}", "see `launch status RUN`", message)


def waiting_finding(pod: dict, events: list[dict]) -> Finding | None:
    """A live pod that cannot start (rows 7-10): scheduling, then the container's waiting state, then volumes."""
    mine = events_of(events, pod["metadata"].get("uid", ""))
    return _scheduling(pod, mine) or _container_waiting(pod) or _volume(pod, mine)


def _scheduling(pod: dict, mine: list[dict]) -> Finding | None:
    unscheduled = next((c for c in (pod.get("status") or {}).get("conditions") or []
                        if c.get("type") == "PodScheduled" and c.get("status") == "False"), None)
    if not unscheduled or unscheduled.get("reason") != "Unschedulable":
        return None
    scheduling = [e for e in mine if e.get("reason") == "FailedScheduling"]
    message = (scheduling[-1].get("message") if scheduling else "") or unscheduled.get("message", "")
    return Finding("the scheduler finds no node for the pod", "; ".join(explain(message)), message,
                   pod=pod["metadata"]["name"])


def _container_waiting(pod: dict) -> Finding | None:
    waiting, name = (container(pod).get("state") or {}).get("waiting") or {}, pod["metadata"]["name"]
    if waiting.get("reason") in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"):
        image = ((pod.get("spec") or {}).get("containers") or [{}])[0].get("image", "")
        return Finding(f"the image {image} cannot be pulled ({waiting['reason']})",
                       "check the image name and tag in `image`, and the pull secret if the registry is private",
                       waiting.get("message", ""), pod=name)
    if waiting.get("reason") == "CreateContainerConfigError":
        return Finding(f"the container cannot be created: {waiting.get('message', '')}",
                       "create the missing Secret or ConfigMap (or key) in the namespace, or fix its name in the "
                       "config", waiting.get("message", ""), pod=name)
    return None


def _volume(pod: dict, mine: list[dict]) -> Finding | None:
    volume = [e for e in mine if e.get("reason") in ("FailedAttachVolume", "FailedMount")]
    if not volume:
        return None
    message = volume[-1].get("message", "")
    fix = "fix the volume the message names (kubectl describe pvc)"
    if "Multi-Attach" in message:
        fix = ("a ReadWriteOnce volume is still attached to another node (the old pod's): use a ReadWriteMany "
               "claim for checkpoints, or wait for the old attachment to be released")
    return Finding("a volume cannot be attached or mounted", fix, message, pod=pod["metadata"]["name"])


def ended_finding(pod: dict, logs: list[str]) -> Finding | None:
    """A pod that ended badly (rows 11-12): OOM, crash, or a preemption the Job ignores."""
    done, name = terminated(pod), pod["metadata"]["name"]
    if (pod.get("status") or {}).get("phase") != "Failed":
        return None
    if is_preempted(pod):
        disruption = condition(pod, "DisruptionTarget") or {}
        cause = disruption.get("reason") or f"exit {done.get('exitCode')} (requeue)"
        return Finding(f"index {pod_index(pod)} was preempted ({cause}); the Job ignores it and replaces the pod",
                       "nothing to fix: training resumes from the last checkpoint", disruption.get("message", ""),
                       problem=False, pod=name)
    if done.get("reason") == "OOMKilled":
        limit = (((pod.get("spec") or {}).get("containers") or [{}])[0].get("resources") or {}).get(
            "limits", {}).get("memory", "its limit")
        return Finding(f"index {pod_index(pod)} was OOM-killed at its memory limit of {limit}",
                       "raise resources.memory, or lower train.batch_size / model.max_seq_len", "OOMKilled, exit 137",
                       pod=name)
    summary = parse_termination_message(done.get("message"))["summary"]
    tail = "\n".join(logs[-10:])
    return Finding(f"index {pod_index(pod)} crashed with exit code {done.get('exitCode')}"
                   + (f": {summary}" if summary else ""), "read the last lines below, fix, then `launch resume RUN`",
                   tail, pod=name)


def backoff_finding(job: dict, pods: list[dict]) -> Finding | None:
    """No live pod, not suspended, not finished (row 13): the Job controller's pod-failure backoff."""
    live = [p for p in pods if (p.get("status") or {}).get("phase") in ("Pending", "Running")]
    if live or (job.get("status") or {}).get("active"):
        return None
    failed = sum((p.get("status") or {}).get("phase") == "Failed" for p in pods)
    if not failed:
        return None
    delay = min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_CAP)
    return Finding(f"no pod is running: the Job controller waits out its pod-failure backoff (about {delay} s "
                   f"after {failed} failed pod(s), preemptions included) before creating the replacement",
                   "wait; the backoff grows 10 s, 20 s, 40 s ... up to 10 minutes (kubernetes#130881)",
                   problem=False)


def diagnose(job: dict, pods: list[dict], events: list[dict], logs: dict[str, list[str]] | None = None,
             workloads: list[dict] | None = None, now: float | None = None,
             nodes: dict[str, dict] | None = None) -> list[Finding]:
    """Every finding for the run, most important first. `logs`: pod name -> its last lines (for crashes);
    `workloads`: its Kueue Workloads (None: unknown); `now`: seconds since the epoch (None: no pod is judged
    stuck by time); `nodes`: node name -> Node of the pods being deleted, where readable."""
    if found := job_findings(job, pods, events, workloads):
        return found + [f for f in _pod_findings(pods, events, logs or {}, now, nodes or {}) if f.problem]
    findings = _pod_findings(pods, events, logs or {}, now, nodes or {})
    findings += missing_pod_findings(job, pods, events, findings)
    if findings:
        return findings
    return [Finding("healthy: every index has a pod that is scheduled and running or done", problem=False),
            *preemption_cost_findings(job, pods)]


def preemption_cost_findings(job: dict, pods: list[dict]) -> list[Finding]:
    """What the Job controller's back-off will make the next preemption cost (backoff.py), and how to reset it:
    a new Job starts with none. Not a problem: waiting it out loses no work."""
    if (note := preemption_cost_note(job, pods)) is None:
        return []
    run = job["metadata"]["name"]
    return [Finding(f"next preemption: {note}", problem=False,
                    fix=f"to start again with no back-off, `launch cancel {run}` then `launch resume {run}` "
                        "(the pods commit a checkpoint on the way out; the new Job resumes from it)")]


def _pod_findings(pods: list[dict], events: list[dict], logs: dict[str, list[str]], now: float | None,
                  nodes: dict[str, dict]) -> list[Finding]:
    pending = [p for p in pods if (p.get("status") or {}).get("phase") == "Pending"
               and not (p.get("metadata") or {}).get("deletionTimestamp")]
    live = [f for p in pending if (f := waiting_finding(p, events))]
    deleted = [f for p in pods if (f := deleted_finding(p, now, nodes.get((p.get("spec") or {}).get("nodeName", ""))))]
    ended = [f for p in last_failed(pods) if (f := ended_finding(p, logs.get(p["metadata"]["name"], [])))]
    return deleted + live + ended


def indexes_without_pod(job: dict, pods: list[dict]) -> list[int]:
    """Indexes with no pod that lives (Pending or Running) or succeeded: the Job controller has yet to create
    (or replace) theirs."""
    covered = {pod_index(p) for p in pods
               if (p.get("status") or {}).get("phase") in ("Pending", "Running", "Succeeded")}
    return [i for i in range(int((job.get("spec") or {}).get("completions") or 1)) if i not in covered]


def missing_pod_findings(job: dict, pods: list[dict], events: list[dict], found: list[Finding]) -> list[Finding]:
    """For indexes with no pod: the Job controller's newest refusal to create one (FailedCreate), else its
    pod-failure backoff, else a finding that no event says why; [] when every index has a pod."""
    missing = indexes_without_pod(job, pods)
    if not missing or condition(job, "Complete") or (job.get("metadata") or {}).get("deletionTimestamp"):
        return []
    if refused := creation_finding(job, events, missing):
        return [refused]
    if not any(f.problem for f in found) and (waiting := backoff_finding(job, pods)):
        return [waiting]
    ended_before = {pod_index(p) for p in pods if (p.get("status") or {}).get("phase") == "Failed"}
    unexplained = [i for i in missing if i not in ended_before]
    if not unexplained:
        return []
    return [Finding(f"{_indexes(unexplained)} {'has' if len(unexplained) == 1 else 'have'} no pod, and no event "
                    "of the Job says why", f"kubectl describe job {job['metadata']['name']} (its events expire "
                    "after an hour); is the Job controller (kube-controller-manager) running?")]


def creation_finding(job: dict, events: list[dict], missing: list[int]) -> Finding | None:
    """The Job controller's newest FailedCreate event ("Error creating: pods ... is forbidden: ..."), in plain
    words with the fix (pod_refusal.refusal_words)."""
    refused = [e for e in events_of(events, job["metadata"].get("uid", "")) if e.get("reason") == "FailedCreate"]
    if not refused:
        return None
    message = refused[-1].get("message") or ""
    what, fix = refusal_words(message)
    return Finding(f"the Job controller cannot create the pod of {_indexes(missing)}: {what}",
                   f"{fix}; the Job controller tries again on its own", message)


def _indexes(indexes: list[int]) -> str:
    return f"index {indexes[0]}" if len(indexes) == 1 else f"indexes {', '.join(map(str, indexes))}"


def deleted_finding(pod: dict, now: float | None, node: dict | None) -> Finding | None:
    """A pod being deleted: stopping (not a problem), or stuck: it does not stop (see runstatus.is_stuck) or
    its node is not Ready, and its replacement waits for it (podReplacementPolicy: Failed;
    kubernetes-sigs/jobset#576). None for a pod not being deleted."""
    meta, where = pod.get("metadata") or {}, (pod.get("spec") or {}).get("nodeName") or ""
    if not meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") not in ("Pending", "Running"):
        return None
    ready = next((c for c in ((node or {}).get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                 None)
    down = ready is not None and ready.get("status") != "True"
    if not (down or is_stuck(pod, now)):
        disruption = condition(pod, "DisruptionTarget") or {}
        cause = f" ({disruption.get('reason')}: {disruption.get('message', '')})" if disruption else ""
        return Finding(f"index {pod_index(pod)} is stopping: pod {meta['name']} was deleted at {terminating_since(pod)}"
                       f"{cause}; the Job creates its replacement once it has stopped",
                       "nothing to fix: training resumes from the last checkpoint", problem=False, pod=meta["name"])
    if down:
        state = f"NotReady since {ready.get('lastTransitionTime', '?')}: {ready.get('reason', '')} " \
                f"{ready.get('message', '')}".rstrip()
    else:
        late = int(now - stamp_seconds(meta["deletionTimestamp"])) if now is not None else 0
        state = f"not reporting: its kubelet has not confirmed the stop {late} s after the grace period ended"
    what = (f"index {pod_index(pod)} is stuck: pod {meta['name']} has been terminating since "
            f"{terminating_since(pod)} on node {where or '(none)'} ({state}); the Job creates its replacement only "
            "once it has stopped")
    return Finding(what, STUCK_FIX.format(node=where or "NODE", pod=meta["name"], ns=meta.get("namespace", "NS")),
                   f"deletionTimestamp {meta['deletionTimestamp']}, phase {pod['status']['phase']}", pod=meta["name"])


STUCK_FIX = ("it unblocks by itself when node {node} comes back and its kubelet reports the pod stopped. If the "
             "machine is gone for good: delete the Node (`kubectl delete node {node}`): within about a minute the pod "
             "garbage collector ends its pods (DisruptionTarget DeletionByPodGC, which the Job ignores) and the "
             "replacement starts; or mark it out of service (`kubectl taint node {node} "
             "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`): the pod garbage collector ends its "
             "terminating pods, each counted as a failure toward job.backoff_limit. Force-deleting the pod ({pod} in "
             "{ns}) does not help: the Job's tracking finalizer keeps it until it is marked failed. Risk: do it only "
             "once the machine is known to be off; if it still runs the old pod, the replacement runs beside it, two "
             "copies of one rank that may both write checkpoints")


def last_failed(pods: list[dict]) -> list[dict]:
    """Per index, its newest failed pod: a crash or OOM even if a replacement runs now (it may loop), a
    preemption only while no replacement exists yet."""
    by_index: dict[int, list[dict]] = {}
    for pod in sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp") or ""):
        by_index.setdefault(pod_index(pod), []).append(pod)
    picked = []
    for group in by_index.values():
        failed = [p for p in group if (p.get("status") or {}).get("phase") == "Failed"]
        if failed and (not is_preempted(failed[-1]) or failed[-1] is group[-1]):
            picked.append(failed[-1])
    return picked
