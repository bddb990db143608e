"""What this machine has seen of a cluster run's pods, so that `launch status` and `launch logs` keep counts and
attempt numbers once pod objects are gone (evictions, drains and `kubectl delete pod` delete them; the Job
controller then lets them go: kubernetes/kubernetes#81285).

One file per run, `<runs root>/<run id>/pods.json`: {"job_uid": str, "attempts": [Attempt as JSON]}, beside
the run's cluster.json (records.py). The history belongs to one Job: a new Job under the same run id (a
resume) starts afresh, as the Job controller's own counts do. The file only adds to what the cluster keeps
(runstatus.counted_failures, the per-index failure counts); losing it loses nothing else, so an unreadable
or unwritable file is skipped rather than failing a read-only command.
"""

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

from ..status.model import Attempt

FILE = "pods.json"
_FIELDS = {f.name for f in fields(Attempt)}


def load(runs_root: Path, run_id: str, job_uid: str) -> list[Attempt]:
    """The attempts seen of this Job ([] when none were, or the file is of another Job or unreadable)."""
    try:
        doc = json.loads((runs_root / run_id / FILE).read_text())
        if doc.get("job_uid") != job_uid:
            return []
        return [Attempt(**{k: v for k, v in a.items() if k in _FIELDS}) for a in doc["attempts"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []


def save(runs_root: Path, run_id: str, job_uid: str, history: tuple[Attempt, ...] | list[Attempt]) -> None:
    """Keep the attempts shown (atomically); a runs root that cannot be written is skipped."""
    folder = runs_root / run_id
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{FILE}.tmp"
        tmp.write_text(json.dumps({"job_uid": job_uid, "attempts": [asdict(a) for a in history]}) + "\n")
        os.replace(tmp, folder / FILE)
    except OSError:
        return
