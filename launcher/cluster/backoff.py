"""What the Job controller's pod-failure back-off will cost a plain Job's next preemption. Pure.

kube-controller-manager waits before it re-creates a Job's failed pods: 10 s x 2^(n-1), capped at 10 minutes,
where n counts every failed pod since the Job's last succeeded pod, pods that the podFailurePolicy ignored
included (pkg/controller/job/backoff_utils.go `getRemainingTimeForFailuresCount`, v1.37;
kubernetes/kubernetes#119434 made ignored failures count, #130881 asks for the opposite). Preemptions are
ignored failures, so they do not use up backoffLimit but they do grow the wait: a run preempted twenty times
idles its gang for hours. Losing index 0 (the rendezvous host) fails every pod of the gang (the others requeue),
so one such preemption adds `nodes` failures at once.
"""

DEFAULT_BACKOFF_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 600.0


def backoff_seconds(failures: int) -> float:
    """The controller's wait before re-creating pods after the `failures`-th failed pod since the Job's last
    success (0 when there is none), in seconds."""
    if failures <= 0:
        return 0.0
    return min(DEFAULT_BACKOFF_SECONDS * 2 ** (failures - 1), MAX_BACKOFF_SECONDS)


def failed_pods(pods: list[dict]) -> int:
    """Failed pods of the Job that still exist: a lower bound of the controller's count (it also remembers
    pods that were deleted since). A run's pods succeed only at its end, so none resets the count before."""
    return sum(1 for pod in pods if (pod.get("status") or {}).get("phase") == "Failed")


def next_preemption_waits(failures: int, nodes: int) -> tuple[float, float]:
    """(seconds before the replacement of the next preempted pod that is not index 0, seconds when it is
    index 0 and the whole gang of `nodes` pods fails with it), given `failures` failed pods so far."""
    return backoff_seconds(failures + 1), backoff_seconds(failures + nodes)


def duration(seconds: float) -> str:
    """`5 min 20 s`, `40 s`, `10 min`."""
    minutes, rest = divmod(int(round(seconds)), 60)
    return " ".join(part for part in (f"{minutes} min" if minutes else "", f"{rest} s" if rest or not minutes
                                      else "") if part)


def preemption_cost_note(job: dict, pods: list[dict]) -> str | None:
    """One line for `status` and `doctor` of a running plain Job whose pods have failed (been preempted)
    before, so that its next preemption waits longer for the controller's back-off; None when no pod has
    failed yet or the Job has ended."""
    if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
           for c in (job.get("status") or {}).get("conditions") or []):
        return None
    nodes, failures = int((job.get("spec") or {}).get("completions") or 1), failed_pods(pods)
    if not failures:  # the first preemption's wait is the controller's 10 s (20 s for a gang's host)
        return None
    other, host = next_preemption_waits(failures, nodes)
    gang = "" if nodes == 1 else f" ({duration(host)} if it is index 0, which takes the gang with it)"
    return (f"the Job controller will wait {duration(other if nodes > 1 else host)} before replacing the next "
            f"preempted pod{gang}: its back-off counts preemptions too (kubernetes/kubernetes#130881); "
            f"see docs/cluster.md, Preemption cost")
