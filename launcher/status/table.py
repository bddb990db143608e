"""Plain-text views of the shared run-status model: `launch status RUN` and `launch list`, kubectl style.

Pure: `now` (seconds since the epoch) is passed in so ages are testable. `launch status` is a list of
sections (the run's summary, its indexes, its attempts, where its results are) separated by a blank line,
so a new section is one more function. print_status and print_list choose between the text and JSON or YAML.
"""

import shutil
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ..output import emit, table
from .model import RunStatus

Say = Callable[[str], None]


def age(created: str, now: float) -> str:
    """'3m', '2h', '4d' since an RFC 3339 time; '-' when unknown."""
    if not created:
        return "-"
    seconds = max(0, now - datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _step(status: RunStatus) -> str:
    return "-" if status.committed_step is None else str(status.committed_step)


def _metrics(metrics: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in metrics.items() if not isinstance(v, (list, dict))) or "-"


def _where(status: RunStatus) -> str:
    return f"cluster, namespace {status.namespace}" if status.namespace else status.where


def summary_section(status: RunStatus, now: float) -> str:
    """Name, where, status, age, counts, committed step, metrics and reason, one `Key: value` a line."""
    pairs = [("Name", status.run_id), ("Where", _where(status)), ("Status", status.status),
             ("Age", age(status.created, now)), ("Attempts", str(status.attempts)),
             ("Preemptions", str(status.preemptions)), ("Failures", str(status.failures)),
             ("Committed step", _step(status)), ("Metrics", _metrics(status.metrics))]
    pairs += [("Reason", status.reason)] if status.reason else []
    width = max(len(key) for key, _ in pairs) + 3
    return "\n".join(f"{key + ':':<{width}}{value}" for key, value in pairs)


def tensorboard_program() -> str:
    """`tensorboard` when it is on PATH, else the one beside this Python (the venv's), so the printed
    command runs as printed outside an activated venv."""
    beside = Path(sys.executable).parent / "tensorboard"
    return "tensorboard" if shutil.which("tensorboard") or not beside.is_file() else str(beside)


def artifact_lines(final_dir: str, logs_dir: str, tensorboard: str = "tensorboard") -> list[str]:
    """Where a run's results are, and how to open its TensorBoard (`tensorboard`: the program to name): the
    lines both the end-of-run summary and `launch status` print."""
    lines = [f"final model: {final_dir}"] if final_dir else []
    if logs_dir:
        board = (f"aws s3 sync {logs_dir} logs && {tensorboard} --logdir logs/tensorboard"
                 if logs_dir.startswith("s3://") else f"{tensorboard} --logdir {logs_dir}/tensorboard")
        lines.append(f"metrics history: {logs_dir}/csv/metrics.csv; TensorBoard: {board}")
    return lines


def indexes_section(status: RunStatus) -> str:
    """Per completion index: its newest pod, node and state, and the counts over all its pods."""
    return table(["index", "pod", "node", "state", "attempts", "preemptions", "failures"],
                 [(i.index, i.pod or None, i.node or None, i.state, i.attempts, i.preemptions, i.failures)
                  for i in status.indexes])


def history_section(status: RunStatus, wide: bool = False) -> str:
    """Every pod of the run in start order: when it ran, how it ended, and the steps it trained from and to;
    `wide` adds its pod and node."""
    headers = ["index", "attempt", *(["pod", "node"] if wide else []), "started", "ended", "exit", "drill",
               "from-step", "to-step", "outcome"]
    rows = [[a.index, a.attempt, *([a.pod or None, a.node or None] if wide else []), a.created or None,
             a.finished or None, a.exit_code, a.drill or None, a.resumed_from, a.stopped_at, _outcome(a)]
            for a in sorted(status.history, key=lambda a: (a.created, a.index, a.attempt))]
    return table(headers, rows)


def _outcome(attempt) -> str:
    """How an attempt ended, or its state; a pod object that is gone says so (its log went with it)."""
    said = attempt.ended or attempt.state
    return f"{said} [pod gone]" if attempt.gone and attempt.state != "Gone" else said


def status_text(status: RunStatus, now: float, wide: bool = False, tensorboard: str = "tensorboard") -> str:
    """`launch status` as text: the sections, a blank line between them."""
    sections = [summary_section(status, now), indexes_section(status)]
    sections += [history_section(status, wide)] if status.history else []
    artifacts = artifact_lines(status.final_dir, status.logs_dir, tensorboard)
    sections += ["\n".join(artifacts)] if artifacts else []
    return "\n\n".join(sections + (["\n".join(f"Note: {note}" for note in status.notes)] if status.notes else []))


LIST_COLUMNS = ["name", "status", "attempts", "preemptions", "failures", "step", "age"]
WIDE_COLUMNS = ["name", "status", "attempts", "preemptions", "failures", "step", "where", "config-hash",
                "metrics", "age"]


def oldest_first(statuses: list[RunStatus]) -> list[RunStatus]:
    """Runs in creation order, newest last (runs of unknown age first), then by name."""
    return sorted(statuses, key=lambda s: (s.created, s.run_id))


def list_text(statuses: list[RunStatus], now: float, wide: bool = False) -> str:
    """`launch list` as text: one row per run as given, the NAME column whole."""
    def row(s: RunStatus) -> list:
        cells = {"name": s.run_id, "status": s.status, "attempts": s.attempts, "preemptions": s.preemptions,
                 "failures": s.failures, "step": _step(s), "where": s.namespace or s.where,
                 "config-hash": s.config_hash or None, "metrics": _metrics(s.metrics), "age": age(s.created, now)}
        return [cells[c] for c in columns]
    columns = WIDE_COLUMNS if wide else LIST_COLUMNS
    return table(columns, [row(s) for s in statuses])


def print_status(status: RunStatus, output: str, say: Say) -> None:
    """`launch status`: the text (text, wide), or one JSON object or YAML document (RunStatus.to_json)."""
    emit(status.to_json(), output,
         lambda: status_text(status, time.time(), output == "wide", tensorboard_program()), say)


def print_list(statuses: list[RunStatus], output: str, say: Say, empty: str = "No runs found.") -> None:
    """`launch list`: the table, newest last, or a JSON array / YAML list of RunStatus.to_json in the same
    order. With no run, the text output is `empty` on stderr (as kubectl's "No resources found")."""
    ordered = oldest_first(statuses)
    if not ordered and output in ("text", "wide"):
        print(empty, file=sys.stderr)
        return
    emit([s.to_json() for s in ordered], output, lambda: list_text(ordered, time.time(), output == "wide"), say)

