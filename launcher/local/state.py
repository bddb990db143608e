"""A local run's folder: run.json (status, attempts, preemptions, metrics), the manifests, per-attempt logs
and events.log, the supervisor's own timestamped lines."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..schema.contract import utc_stamp


@dataclass
class RunState:
    """A local run as `launch status` shows it. `attempts`: pods started, all indexes together; `failures`:
    counted failures over every run of the Job; `job_run`: how many times the Job was run (each
    `launch train --local` of a run that has not succeeded is a new run of it, with a backoffLimit of its
    own, as `launch resume` submits a new Job on a cluster); `history`: one record per pod, {"job_run",
    "index", "attempt" (per index, from 1, never reused), "started" and "ended" (RFC 3339
    UTC; ended None while it runs), "exit_code" (None while it runs), "drill" ("preempt", "kill" or None),
    "resumed_from" (the step the gang's training started from while the pod lived, None if it never
    trained), "stopped_at" (the newest step rank 0 reported when the pod ended)}."""

    run_id: str
    config_hash: str
    status: str = "Pending"  # Pending, Running, Succeeded, Failed, Cancelled
    attempts: int = 0
    preemptions: int = 0
    failures: int = 0
    job_run: int = 0
    reason: str = ""
    final_dir: str = ""
    logs_dir: str = ""  # the trainer's CSV (csv/metrics.csv) and TensorBoard (tensorboard/) logs
    metrics: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    def last_attempt(self, index: int) -> int:
        """The attempt number of the index's newest pod; 0 before its first."""
        return max((h["attempt"] for h in self.history if h.get("index") == index), default=0)

    def record_start(self, index: int, attempt: int) -> None:
        """A new pod for `index`: attempt `attempt` starts now."""
        self.history.append({"job_run": self.job_run, "index": index, "attempt": attempt, "started": utc_stamp(), "ended": None,
                             "exit_code": None, "drill": None, "resumed_from": None, "stopped_at": None})

    def record_exit(self, index: int, attempt: int, code: int | None, drill: str | None, step: int | None) -> None:
        """The pod ended with `code` (None: it could not be reaped) after the gang reached `step`."""
        for record in self.records(index, attempt):
            record.update(exit_code=code, drill=drill, ended=utc_stamp(), stopped_at=step)

    def record_resume(self, step: int) -> None:
        """The gang started training from `step`: the first such line of each running pod is where it resumed."""
        for record in self.history:
            running = record.get("ended") is None and record.get("exit_code") is None
            if running and record.get("resumed_from") is None:
                record["resumed_from"] = step

    def records(self, index: int, attempt: int) -> list[dict]:
        """The history records of one pod (one, unless run.json was edited by hand)."""
        return [r for r in self.history if (r.get("index"), r.get("attempt")) == (index, attempt)]

    def save(self, folder: Path) -> None:
        """Atomically, so `launch status` never reads half a file."""
        tmp = folder / "run.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, folder / "run.json")

    @classmethod
    def load(cls, folder: Path) -> "RunState | None":
        path = folder / "run.json"
        return cls(**json.loads(path.read_text())) if path.is_file() else None

    def summary(self) -> dict:
        return {"run_id": self.run_id, "status": self.status, "attempts": self.attempts,
                "preemptions": self.preemptions, "failures": self.failures, "reason": self.reason,
                "final_dir": self.final_dir, "logs_dir": self.logs_dir, "metrics": self.metrics}


def log_path(folder: Path, index: int, attempt: int) -> Path:
    return folder / "logs" / f"index-{index}-attempt-{attempt}.log"


def list_runs(root: Path) -> list[RunState]:
    if not root.is_dir():
        return []
    states = (RunState.load(p) for p in sorted(root.iterdir()) if p.is_dir())
    return [s for s in states if s is not None]


RUNS_ROOT_ENV = "KUBETRAIN_RUNS_ROOT"


def default_runs_root() -> Path:
    """Where local run state lives unless --runs-root says otherwise, whatever the working directory:
    $KUBETRAIN_RUNS_ROOT, else $XDG_STATE_HOME/kubetrain/runs, else ~/.local/state/kubetrain/runs."""
    if moved := os.environ.get(RUNS_ROOT_ENV):
        return Path(moved).expanduser()
    state_home = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state_home) / "kubetrain" / "runs"
