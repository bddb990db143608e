"""What the Job controller does when one pod of an Indexed Job ends, for the rendered podFailurePolicy.
Pure: the local supervisor acts on it, and tests/job_outcomes.py holds it to the real controller.

Facts (Kubernetes 1.37, pkg/controller/job): only the failed index gets a new pod; a pod failed with a
DisruptionTarget condition (whatever its exit code: the policy's rules are tried in order and that one is
first) or with the requeue code is ignored (not counted toward backoffLimit), the bad-config code fails the
Job at once, other failures count. New pods for failed ones wait an exponential back-off
that counts every failed pod since the Job's last success, ignored ones included: 10 s, 20 s, 40 s ...
up to 10 minutes (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff; the real controller's delays are
measured in tests/job_outcomes.py: 9.8, 20.0 and 39.9 s).
"""

import signal
from dataclasses import dataclass, field

from ..schema import EXIT_BAD_CONFIG, EXIT_OK, EXIT_REQUEUE

BACKOFF_CAP_SECONDS = 600.0


@dataclass(frozen=True)
class Verdict:
    """done: the index succeeded; fail: the Job fails with `reason`; replace: a new pod for the index,
    `counted` toward backoffLimit or not."""

    action: str
    counted: bool = False
    reason: str = ""


def judge_pod(code: int, disrupted: bool) -> Verdict:
    """The controller's verdict on a pod that ended with `code`; `disrupted`: it carried DisruptionTarget
    (locally: a drill ended it, as a spot notice or a lost node would). The rendered podFailurePolicy's
    first rule ignores a disrupted pod whatever its exit code: a spot notice followed by a failed save
    (exit 1) or by exit 2 is a preemption, not a crash or a bad config."""
    if code == EXIT_OK:
        return Verdict("done")
    if disrupted:
        return Verdict("replace", reason=f"disrupted ({_ending(code)})")
    if code == EXIT_BAD_CONFIG:
        return Verdict("fail", counted=True, reason="PodFailurePolicy: bad config or data (exit 2), not retried")
    if code == EXIT_REQUEUE:
        return Verdict("replace", reason="requeue (exit 75)")
    return Verdict("replace", counted=True, reason=f"crash (exit {code})")


def _ending(code: int) -> str:
    """How a process ended, as a signal's name or its exit code."""
    return signal.Signals(-code).name if code < 0 else f"exit {code}"


def backoff_seconds(failed_since_success: int, base: float = 10.0) -> float:
    """Delay before the new pod that replaces the `failed_since_success`-th failed pod in a row (from 1)."""
    return min(base * 2 ** (max(1, failed_since_success) - 1), BACKOFF_CAP_SECONDS)


@dataclass
class JobBackoff:
    """The Job controller's pod-failure back-off record for one Job (backoff_utils.go, backoffRecord):
    failures since the Job's last success, and when the newest of them ended (seconds, any clock). Missing
    pods, of whatever index, are created together once `remaining` reaches 0."""

    base: float = 10.0
    failures_after_success: int = 0
    last_failure: float | None = field(default=None)

    def failed(self, at: float) -> None:
        """A pod of any index failed (ignored failures included) at `at`."""
        self.failures_after_success += 1
        self.last_failure = at

    def succeeded(self) -> None:
        """A pod succeeded: the count starts again (newBackoffRecord with new succeeded pods)."""
        self.failures_after_success, self.last_failure = 0, None

    def remaining(self, now: float) -> float:
        """Seconds before missing pods may be created (getRemainingTimeForFailuresCount); 0 when they may."""
        if not self.failures_after_success or self.last_failure is None:
            return 0.0
        return max(0.0, backoff_seconds(self.failures_after_success, self.base) - (now - self.last_failure))
