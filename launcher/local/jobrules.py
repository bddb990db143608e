"""What the Job controller does when one pod of an Indexed Job ends, for the rendered podFailurePolicy.
Pure: the local supervisor acts on it, and tests/job_outcomes.py holds it to the real controller.

Facts (Kubernetes 1.37, pkg/controller/job): only the failed index gets a new pod; a pod failed with a
DisruptionTarget condition or the requeue code is ignored (not counted toward backoffLimit), the bad-config
code fails the Job at once, other failures count. New pods for failed ones wait an exponential back-off
that counts every failed pod since the Job's last success, ignored ones included: 10 s, 20 s, 40 s ...
up to 10 minutes (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff; the real controller's delays are
measured in tests/job_outcomes.py: 9.8, 20.0 and 39.9 s).
"""

import signal
from dataclasses import dataclass

from ..schema import EXIT_BAD_CONFIG, EXIT_OK, EXIT_REQUEUE

KILLED = (-signal.SIGKILL, -signal.SIGTERM)
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
    (locally: a drill ended it, as a spot notice or a lost node would)."""
    if code == EXIT_OK:
        return Verdict("done")
    if code == EXIT_BAD_CONFIG:
        return Verdict("fail", counted=True, reason="PodFailurePolicy: bad config or data (exit 2), not retried")
    if code == EXIT_REQUEUE:
        return Verdict("replace", reason="requeue (exit 75)")
    if disrupted and code in KILLED:
        return Verdict("replace", reason=f"disrupted ({signal.Signals(-code).name})")
    return Verdict("replace", counted=True, reason=f"crash (exit {code})")


def backoff_seconds(failed_since_success: int, base: float = 10.0) -> float:
    """Delay before the new pod that replaces the `failed_since_success`-th failed pod in a row (from 1)."""
    return min(base * 2 ** (max(1, failed_since_success) - 1), BACKOFF_CAP_SECONDS)
