"""A local run's folder: run.json (status, attempts, preemptions, metrics), the manifests, per-attempt logs."""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class RunState:
    """A local run as `launch status` shows it. `attempts`: pods started, all indexes together;
    `history`: one record per pod, {"index", "attempt" (per index, from 1), "exit_code" (None while it
    runs), "drill" ("preempt", "kill" or None)}."""

    run_id: str
    config_hash: str
    status: str = "Pending"  # Pending, Running, Succeeded, Failed, Cancelled
    attempts: int = 0
    preemptions: int = 0
    failures: int = 0
    reason: str = ""
    final_dir: str = ""
    metrics: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)

    def last_attempt(self, index: int) -> int:
        """The attempt number of the index's newest pod; 0 before its first."""
        return max((h["attempt"] for h in self.history if h.get("index") == index), default=0)

    def record_exit(self, index: int, attempt: int, code: int | None, drill: str | None) -> None:
        for record in self.history:
            if (record.get("index"), record.get("attempt")) == (index, attempt):
                record["exit_code"], record["drill"] = code, drill

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
                "final_dir": self.final_dir, "metrics": self.metrics}


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
