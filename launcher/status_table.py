"""Rich tables of the shared run-status model: one for `launch status RUN`, one for `launch list`.

The tables are pure apart from Rich (`now`, seconds since the epoch, is passed in so ages are testable);
print_status and print_list choose between them and JSON.
"""

import json
import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.table import Column, Table

from .status import RunStatus


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


def run_table(status: RunStatus, now: float) -> Table:
    """Per index: current pod, node, state, attempts, preemptions, failures; the run's totals in the title
    and caption."""
    where = f"{status.namespace}/" if status.namespace else "local "
    table = Table("index", Column("pod", overflow="fold"), Column("node", overflow="fold"), "state", "attempts",
                  "preemptions", "failures",
                  title=f"{where}{status.run_id}: {status.status} (age {age(status.created, now)})",
                  caption=_caption(status))
    for row in status.indexes:
        table.add_row(str(row.index), row.pod or "-", row.node or "-", row.state, str(row.attempts),
                      str(row.preemptions), str(row.failures))
    return table


def _caption(status: RunStatus) -> str:
    parts = [f"{status.attempts} attempt(s), {status.preemptions} preemption(s), {status.failures} failure(s)",
             f"last committed step: {_step(status)}"]
    if status.metrics:
        parts.append(f"metrics: {_metrics(status.metrics)}")
    if status.reason:
        parts.append(f"reason: {status.reason}")
    return "\n".join(parts)


def list_table(statuses: list[RunStatus], now: float) -> Table:
    """One row per run, newest first as given."""
    table = Table(Column("run", overflow="fold"), "where", "status", "attempts", "preemptions", "failures", "step",
                  Column("metrics", overflow="fold"), "age")
    for s in statuses:
        table.add_row(s.run_id, s.namespace or s.where, s.status, str(s.attempts), str(s.preemptions),
                      str(s.failures), _step(s), _metrics(s.metrics), age(s.created, now))
    return table


def print_status(status: RunStatus, output: str, say: Callable[[str], None]) -> None:
    """`launch status`: the table, or with output "json" one JSON object."""
    if output == "json":
        say(json.dumps(status.to_json(), default=str))
    else:
        Console().print(run_table(status, time.time()))


def print_list(statuses: list[RunStatus], output: str, say: Callable[[str], None]) -> None:
    """`launch list`: the table, or with output "json" one JSON array."""
    if output == "json":
        say(json.dumps([s.to_json() for s in statuses], default=str))
    else:
        Console().print(list_table(statuses, time.time()))
