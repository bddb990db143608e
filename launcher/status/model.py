"""One run-status model for local and cluster runs, so `launch status`, `list` and `logs` show both alike.

Pure: built by `launcher/local/` from run.json and by `launcher/cluster/runstatus.py` from API objects; shown
by `launcher/status/table.py` (Rich) or as JSON (`RunStatus.to_json`, the `-o json` of every command).

Phases (`status`): Queued (suspended by Kueue), Suspended, Pending (no pod has run yet), Running, Succeeded,
Failed, Cancelled. Counts follow the Job controller: an attempt is a pod created for an index; a preemption
is a pod that failed with a DisruptionTarget condition or the trainer's requeue code (ignored by the
podFailurePolicy); a failure is any other failed pod (it counts toward backoffLimit). Counts and attempt
numbers never go down: a pod object that is gone (evicted, drained, deleted) stays in the history with
`gone` set, and the Job's own failure count is a floor for `failures` (kubernetes/kubernetes#81285).

Pod states (`Attempt.state`, `IndexStatus.state`): Pending, Running, Stopping (it ran and is being deleted:
drain, eviction, spot notice), Terminating (deleted before it ran), Stuck (deleted, and still not stopped
well past the end of its grace period: its node is unreachable, and its replacement waits for it),
Succeeded, Failed, Gone (the pod object vanished before its end was seen; `preempted` says whether the Job
ignored it or counted it as a failure). A pod seen ending keeps that end once its object is gone.
"""

from dataclasses import asdict, dataclass, field

PHASES = ("Queued", "Suspended", "Pending", "Running", "Succeeded", "Failed", "Cancelled")
FINISHED = ("Succeeded", "Failed", "Cancelled")


@dataclass(frozen=True)
class Attempt:
    """One pod of one index. `attempt` counts from 1 per index in creation order (never renumbered, also once
    older pods are gone); `state` is one of the pod states above; `ended` says why it ended in words
    ("preempted: ...", "exit code 1", "OOMKilled (exit 137)"), empty while it lives; `committed_step` comes
    from its termination message; `created`/`finished` are when it started and ended."""

    index: int
    attempt: int
    state: str
    pod: str = ""
    node: str = ""
    exit_code: int | None = None
    preempted: bool = False
    ended: str = ""
    committed_step: int | None = None
    created: str = ""  # RFC 3339, UTC
    finished: str = ""  # RFC 3339, UTC; empty while it lives or when unknown
    resumed_from: int | None = None  # the step the gang's training started from while this pod lived
    stopped_at: int | None = None  # the newest step the gang reported when this pod ended
    drill: str = ""  # local runs: "preempt" or "kill" when a drill ended this pod
    gone: bool = False  # cluster runs: the pod object no longer exists (its log went with it)


@dataclass(frozen=True)
class IndexStatus:
    """One completion index: its newest pod and the counts over all of its pods."""

    index: int
    pod: str
    node: str
    state: str
    attempts: int
    preemptions: int
    failures: int

    @classmethod
    def of(cls, index: int, attempts: list[Attempt]) -> "IndexStatus":
        """From the index's attempts (any order); an index with none is Pending with no pod. `attempts` is the
        newest attempt's number, so attempts nobody saw (numbered from the cluster's counts) are counted."""
        ordered = sorted(attempts, key=lambda a: a.attempt)
        last = ordered[-1] if ordered else Attempt(index, 0, "Pending")
        failed = [a for a in ordered if a.state in ("Failed", "Gone")]
        preempted = sum(a.preempted for a in failed)
        return cls(index, last.pod, last.node, last.state, last.attempt, preempted, len(failed) - preempted)


@dataclass(frozen=True)
class RunStatus:
    """What `launch status` shows for one run. `where` is "local" or "cluster"; `created` RFC 3339 (UTC);
    `committed_step` the newest step any pod reported committed; `metrics` the final ones (empty until
    Succeeded); `logs_dir` holds the trainer's csv/metrics.csv and tensorboard/ (empty when unknown).
    `run_id`, `status`, `attempts`, `preemptions`, `failures`, `reason`, `final_dir` and
    `metrics` keep the names the local run's summary has always had."""

    run_id: str
    status: str
    where: str = "local"
    namespace: str = ""
    reason: str = ""
    attempts: int = 0
    preemptions: int = 0
    failures: int = 0
    committed_step: int | None = None
    metrics: dict = field(default_factory=dict)
    final_dir: str = ""
    logs_dir: str = ""
    created: str = ""
    config_hash: str = ""
    indexes: tuple[IndexStatus, ...] = ()
    history: tuple[Attempt, ...] = ()
    notes: tuple[str, ...] = ()  # what the user should know that no field says (a plain Job's next preemption cost)

    @classmethod
    def from_attempts(cls, run_id: str, status: str, nodes: int, history: list[Attempt], counted_failures: int = 0,
                      **fields) -> "RunStatus":
        """Totals and per-index rows computed from the pods' history; `counted_failures` (the Job's own count)
        is a floor for `failures`, as it outlives the pod objects, and `attempts` is at least every failure,
        preemption and pod that has not ended."""
        indexes = tuple(IndexStatus.of(i, [a for a in history if a.index == i]) for i in range(nodes))
        steps = [a.committed_step for a in history if a.committed_step is not None]
        failures = max(sum(i.failures for i in indexes), counted_failures)
        preemptions = sum(i.preemptions for i in indexes)
        unended = sum(a.state not in ("Failed", "Gone") for a in history)
        attempts = max(sum(i.attempts for i in indexes), failures + preemptions + unended)
        return cls(run_id, status, attempts=attempts, preemptions=preemptions,
                   failures=failures, committed_step=max(steps, default=None),
                   indexes=indexes, history=tuple(sorted(history, key=lambda a: (a.index, a.attempt))), **fields)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def attempts_of(self, index: int) -> list[Attempt]:
        """The index's pods, oldest first."""
        return [a for a in self.history if a.index == index]

    def to_json(self) -> dict:
        """A JSON-ready dict of every field (tuples become lists)."""
        return asdict(self)
