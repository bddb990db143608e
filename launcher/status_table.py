"""Plain-text views of the shared run-status model: `launch status RUN` and `launch list`, kubectl style.

Pure: `now` (seconds since the epoch) is passed in so ages are testable. `launch status` is a list of
sections (the run's summary, its indexes, with `-o wide` its attempts) separated by a blank line, so a new
section is one more function. print_status and print_list choose between the text and JSON or YAML.
"""

import sys
import time
from collections.abc import Callable
from datetime import datetime

from .output import emit, table
from .status import RunStatus

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
    pairs += [("Final model", status.final_dir)] if status.final_dir else []
    width = max(len(key) for key, _ in pairs) + 3
    return "\n".join(f"{key + ':':<{width}}{value}" for key, value in pairs)


def indexes_section(status: RunStatus) -> str:
    """Per completion index: its newest pod, node and state, and the counts over all its pods."""
    return table(["index", "pod", "node", "state", "attempts", "preemptions", "failures"],
                 [(i.index, i.pod or None, i.node or None, i.state, i.attempts, i.preemptions, i.failures)
                  for i in status.indexes])


def attempts_section(status: RunStatus) -> str:
    """Every pod of every index, oldest first (`-o wide`)."""
    return table(["index", "attempt", "pod", "state", "exit", "step", "ended"],
                 [(a.index, a.attempt, a.pod or None, a.state, a.exit_code, a.committed_step, a.ended or None)
                  for a in status.history])


def status_text(status: RunStatus, now: float, wide: bool = False) -> str:
    """`launch status` as text: the sections, a blank line between them."""
    sections = [summary_section(status, now), indexes_section(status)]
    sections += [attempts_section(status)] if wide else []
    return "\n\n".join(sections)


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
    emit(status.to_json(), output, lambda: status_text(status, time.time(), output == "wide"), say)


def print_list(statuses: list[RunStatus], output: str, say: Say, empty: str = "No runs found.") -> None:
    """`launch list`: the table, newest last, or a JSON array / YAML list of RunStatus.to_json in the same
    order. With no run, the text output is `empty` on stderr (as kubectl's "No resources found")."""
    ordered = oldest_first(statuses)
    if not ordered and output in ("text", "wide"):
        print(empty, file=sys.stderr)
        return
    emit([s.to_json() for s in ordered], output, lambda: list_text(ordered, time.time(), output == "wide"), say)

