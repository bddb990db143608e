"""One run-status model for local and cluster runs, so `launch status`, `list` and `logs` show both alike.

Pure: built by `launcher/local/` from run.json and by `launcher/cluster/runstatus.py` from API objects; shown
by `launcher/status/table.py` (Rich) or as JSON (`RunStatus.to_json`, the `-o json` of every command).

Phases (`status`): Queued (suspended by Kueue), Suspended, Pending (no pod running yet), Running, Succeeded,
Failed, Cancelled. Counts follow the Job controller: an attempt is a pod created for an index; a preemption
is a pod that failed with a DisruptionTarget condition or the trainer's requeue code (ignored by the
podFailurePolicy); a failure is any other failed pod (it counts toward backoffLimit).
"""

from dataclasses import asdict, dataclass, field

PHASES = ("Queued", "Suspended", "Pending", "Running", "Succeeded", "Failed", "Cancelled")
FINISHED = ("Succeeded", "Failed", "Cancelled")


@dataclass(frozen=True)
class Attempt:
    """One pod of one index. `attempt` counts from 1 per index in creation order; `state` is Pending,
    Running, Succeeded or Failed; `ended` says why it ended in words ("preempted: ...", "exit code 1",
    "OOMKilled (exit 137)"), empty while it lives; `committed_step` comes from its termination message;
    `created`/`finished` are when it started and ended."""

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
        """From the index's attempts (any order); an index with none is Pending with no pod."""
        ordered = sorted(attempts, key=lambda a: a.attempt)
        last = ordered[-1] if ordered else Attempt(index, 0, "Pending")
        failed = [a for a in ordered if a.state == "Failed"]
        preempted = sum(a.preempted for a in failed)
        return cls(index, last.pod, last.node, last.state, len(ordered), preempted, len(failed) - preempted)


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

    @classmethod
    def from_attempts(cls, run_id: str, status: str, nodes: int, history: list[Attempt], **fields) -> "RunStatus":
        """Totals and per-index rows computed from the pods' history."""
        indexes = tuple(IndexStatus.of(i, [a for a in history if a.index == i]) for i in range(nodes))
        steps = [a.committed_step for a in history if a.committed_step is not None]
        return cls(run_id, status, attempts=len(history), preemptions=sum(i.preemptions for i in indexes),
                   failures=sum(i.failures for i in indexes), committed_step=max(steps, default=None),
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
