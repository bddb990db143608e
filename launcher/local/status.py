"""A local run's run.json (launcher/local/state.py) as the shared run-status model (launcher/status/model.py)."""

from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from .jobrules import judge_pod
from .state import RunState
from ..status.model import Attempt, RunStatus


def local_attempt(record: dict, run_status: str) -> Attempt:
    """One history record (launcher/local/state.py) as an Attempt, judged as the Job controller would
    (launcher/local/jobrules.py)."""
    code, drill = record.get("exit_code"), record.get("drill")
    times = {"created": record.get("started") or "", "finished": record.get("ended") or "",
             "resumed_from": record.get("resumed_from"), "stopped_at": record.get("stopped_at"), "drill": drill or ""}
    if code is None:
        state = "Running" if run_status == "Running" else "Failed"
        return Attempt(record["index"], record["attempt"], state, ended="" if state == "Running" else "stopped",
                       **times)
    verdict = judge_pod(code, disrupted=drill is not None)
    state = "Succeeded" if verdict.action == "done" else "Failed"
    preempted = verdict.action == "replace" and not verdict.counted
    ended = "" if state == "Succeeded" else (f"preempted: {drill} drill" if drill else verdict.reason)
    return Attempt(record["index"], record["attempt"], state, exit_code=code, preempted=preempted, ended=ended,
                   **times)


def local_status(state: RunState, created: str = "") -> RunStatus:
    """The shared model of a local run. The totals are the supervisor's own (they are what it acted on);
    per-index rows and the history come from its records. `created`: RFC 3339 time the run began."""
    history = [local_attempt(r, state.status) for r in state.history]
    nodes = max((a.index for a in history), default=-1) + 1
    computed = RunStatus.from_attempts(state.run_id, state.status, nodes, history, reason=state.reason,
                                       metrics=state.metrics, final_dir=existing(state.final_dir),
                                       logs_dir=existing(state.logs_dir),
                                       config_hash=state.config_hash, created=created)
    return replace(computed, attempts=state.attempts, preemptions=state.preemptions, failures=state.failures)


def existing(location: str) -> str:
    """`location` when there is something there to open (an S3 URI is taken on trust), else "": a run that
    failed before training names no final model or logs folder that does not exist."""
    return location if location.startswith("s3://") or (location and Path(location).exists()) else ""


def folder_created(folder: Path) -> str:
    """When a local run began, as RFC 3339 UTC: the time its folder's config.yaml was written ("" if none)."""
    config = folder / "config.yaml"
    if not config.is_file():
        return ""
    return datetime.fromtimestamp(config.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
