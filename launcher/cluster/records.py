"""What this machine remembers of a cluster run, so `launch resume` can bring back a run whose Job, and with
it the ConfigMap holding its config, is gone (cancelled, or deleted by ttlSecondsAfterFinished).

One file per run, `<runs root>/<run id>/cluster.json`, written by `launch train` before it submits (so a
cut-off submission can be completed by `launch resume`) and after:
    {"run_id", "namespace", "config_hash", "config": <the resolved config YAML>, "cancelled": bool,
     "ended": null | {"status", "reason", "attempts", "preemptions", "failures", "committed_step", "metrics",
                      "created"}}
`ended` is how the run ended, written when `launch status` or `launch train --wait` first sees its Job
finished, so `status` can say it once ttlSecondsAfterFinished has removed the Job.
The local runner's run.json lives beside it in the same folder layout but never in the same folder name
space by accident: a cluster record has no run.json, so `launch list --local` does not list it.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError

FILE = "cluster.json"


@dataclass(frozen=True)
class ClusterRecord:
    run_id: str
    namespace: str
    config_hash: str
    config: str
    cancelled: bool = False
    ended: dict | None = None

    def save(self, runs_root: Path) -> Path:
        """Write atomically; returns the file."""
        folder = runs_root / self.run_id
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, folder / FILE)
        return folder / FILE

    @classmethod
    def load(cls, runs_root: Path, run_id: str) -> "ClusterRecord | None":
        path = runs_root / run_id / FILE
        try:
            return cls(**json.loads(path.read_text())) if path.is_file() else None
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path}: unreadable ({exc}); fix or remove it") from None
