"""What the Job controller makes of our exit codes: one table for the real controller and the local runner.

Each scenario says, per completion index, how its successive pods end, and what the Job then is. The
cluster half (tests/test_cluster_job_outcomes.py) plays each scenario against the real Job controller with the
rendered Job; the local runner's test plays the same scenarios through `launch train --local` and must reach
the same outcome. The expected outcomes below were observed on the real kube-controller-manager (v1.37.2).

Steps: an exit code (0 succeeds, 2 is a bad config, 75 the requeue code, anything else a crash), a Notice (a
spot notice: DisruptionTarget, then the trainer exits with the notice's code; PREEMPT: the requeue code, as
when the preemption save committed) or OOM (killed at the memory limit: exit 137, reason OOMKilled).
"""

from dataclasses import dataclass

from launcher.schema import EXIT_BAD_CONFIG, EXIT_CRASH, EXIT_OK, EXIT_REQUEUE

# Seconds the Job controller waits before it replaces the n-th failed pod in a row: every failure since the
# Job's last success counts, ignored ones (preemptions, requeues) included, so even the first replacement
# waits. Measured on kube-controller-manager v1.37.2 (9.8, 20.0 and 39.9 s for crashes, 9.7 and 20.0 s for
# preemptions); the source doubles 10 s up to 10 minutes (DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff).
REPLACEMENT_DELAYS_SECONDS = (10, 20, 40)



@dataclass(frozen=True)
class Notice:
    """A spot notice (the pod gets DisruptionTarget and SIGTERM), after which the container exits with
    `exit_code`: the requeue code when the preemption save committed, anything else when it did not."""

    exit_code: int = EXIT_REQUEUE


PREEMPT = Notice()
OOM = "oom"
Step = int | str | Notice


@dataclass(frozen=True)
class Outcome:
    """How a Job ends.

    condition: the Job's terminal condition, "Complete" or "Failed".
    reason: the Failed condition's reason ("PodFailurePolicy", "BackoffLimitExceeded"); "" when Complete.
    failed: failures counted toward backoffLimit (Job.status.failed; ignored ones are not counted).
    preemptions: failures the podFailurePolicy ignored (a DisruptionTarget or the requeue code).
    """

    condition: str
    reason: str = ""
    failed: int = 0
    preemptions: int = 0

    @property
    def local_status(self) -> str:
        """The same end as the local runner names it (RunState.status)."""
        return {"Complete": "Succeeded", "Failed": "Failed"}[self.condition]


@dataclass(frozen=True)
class Scenario:
    """A Job of `nodes` indexes with `backoff_limit`; attempts[i] = how index i's successive pods end."""

    name: str
    nodes: int
    backoff_limit: int
    attempts: tuple[tuple[Step, ...], ...]
    expected: Outcome

    def __post_init__(self):
        if len(self.attempts) != self.nodes:
            raise ValueError(f"{self.name}: one attempt list per index")

    def step(self, index: int, attempt: int) -> Step:
        """How index `index`'s `attempt`-th process (1-based) ends. Past its script it succeeds: a runner that
        restarts the whole gang (the local runner) runs an index more often than the Job controller does."""
        script = self.attempts[index]
        return script[attempt - 1] if attempt <= len(script) else EXIT_OK


COMPLETE = "Complete"
FAILED = "Failed"

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("all indexes succeed", 2, 3, ((EXIT_OK,), (EXIT_OK,)), Outcome(COMPLETE)),
    Scenario("spot notice on one index: replaced, not counted", 2, 3,
             ((PREEMPT, EXIT_OK), (EXIT_OK,)), Outcome(COMPLETE, preemptions=1)),
    Scenario("preemption does not use up backoffLimit 0", 1, 0,
             ((PREEMPT, EXIT_OK),), Outcome(COMPLETE, preemptions=1)),
    Scenario("requeue exit code: replaced, not counted", 1, 0,
             ((EXIT_REQUEUE, EXIT_OK),), Outcome(COMPLETE, preemptions=1)),
    Scenario("bad config fails the Job at once", 1, 3,
             ((EXIT_BAD_CONFIG,),), Outcome(FAILED, "PodFailurePolicy", failed=1)),
    Scenario("a crash within backoffLimit is retried", 1, 1,
             ((EXIT_CRASH, EXIT_OK),), Outcome(COMPLETE, failed=1)),
    Scenario("two crashes within backoffLimit, then success", 1, 2,
             ((EXIT_CRASH, EXIT_CRASH, EXIT_OK),), Outcome(COMPLETE, failed=2)),
    Scenario("crashes beyond backoffLimit fail the Job", 1, 1,
             ((EXIT_CRASH, EXIT_CRASH),), Outcome(FAILED, "BackoffLimitExceeded", failed=2)),
    Scenario("an OOM kill counts as a crash", 1, 0,
             ((OOM,),), Outcome(FAILED, "BackoffLimitExceeded", failed=1)),
    Scenario("a requeue then a crash: only the crash counts", 1, 0,
             ((EXIT_REQUEUE, EXIT_CRASH),), Outcome(FAILED, "BackoffLimitExceeded", failed=1, preemptions=1)),
    # The podFailurePolicy's first rule (DisruptionTarget -> Ignore) matches before any exit-code rule.
    Scenario("a spot notice, then exit 1: ignored, not counted", 1, 0,
             ((Notice(EXIT_CRASH), EXIT_OK),), Outcome(COMPLETE, preemptions=1)),
    Scenario("a spot notice, then exit 2: ignored, not a bad config", 1, 0,
             ((Notice(EXIT_BAD_CONFIG), EXIT_OK),), Outcome(COMPLETE, preemptions=1)),
)


@dataclass(frozen=True)
class StaggeredLoss:
    """Index 0's pod of a two-index Job fails with `code`, then index 1's `gap` seconds later, before index 0's
    replacement is due. The controller's back-off is Job-wide (one record per Job: failures since the Job's
    last success, timed from the newest one; pkg/controller/job/backoff_utils.go, and manageJob in
    job_controller.go creates every missing index in one sync once it has passed), so it re-creates both
    indexes together, `together_after` seconds after the second failure: a gang whose pods fell out of step
    (a peer later than peer_timeout_seconds) meets again. Seconds at the controller's 10 s base back-off."""

    gap: float
    code: int
    together_after: float


STAGGERED_LOSS = StaggeredLoss(gap=4, code=EXIT_REQUEUE, together_after=REPLACEMENT_DELAYS_SECONDS[1])
