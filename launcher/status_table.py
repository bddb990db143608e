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


def artifact_lines(final_dir: str, logs_dir: str) -> list[str]:
    """Where a run's results are, and how to open its TensorBoard: the lines both the end-of-run summary
    and `launch status` print."""
    lines = [f"final model: {final_dir}"] if final_dir else []
    if logs_dir and logs_dir.startswith("s3://"):
        lines.append(f"metrics: {logs_dir}/csv/metrics.csv; TensorBoard: aws s3 sync {logs_dir} logs && "
                     "tensorboard --logdir logs/tensorboard")
    elif logs_dir:
        lines.append(f"metrics: {logs_dir}/csv/metrics.csv; TensorBoard: tensorboard --logdir {logs_dir}/tensorboard")
    return lines


def _caption(status: RunStatus) -> str:
    parts = [f"{status.attempts} attempt(s), {status.preemptions} preemption(s), {status.failures} failure(s)",
             f"last committed step: {_step(status)}"]
    if status.metrics:
        parts.append(f"metrics: {_metrics(status.metrics)}")
    if status.reason:
        parts.append(f"reason: {status.reason}")
    return "\n".join([*parts, *artifact_lines(status.final_dir, status.logs_dir)])


def history_table(status: RunStatus) -> Table:
    """Every pod of the run in start order: when it ran, how it ended, and the steps it trained from and to."""
    table = Table("index", "attempt", "started", "ended", "exit", "drill", "from step", "to step",
                  Column("outcome", overflow="fold"), title="attempts")
    dash = lambda value: "-" if value in (None, "") else str(value)  # noqa: E731
    for a in sorted(status.history, key=lambda a: (a.created, a.index, a.attempt)):
        table.add_row(str(a.index), str(a.attempt), dash(a.created), dash(a.finished), dash(a.exit_code),
                      dash(a.drill), dash(a.resumed_from), dash(a.stopped_at), a.ended or a.state)
    return table


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
        if status.history:
            Console().print(history_table(status))


def print_list(statuses: list[RunStatus], output: str, say: Callable[[str], None]) -> None:
    """`launch list`: the table, or with output "json" one JSON array."""
    if output == "json":
        say(json.dumps([s.to_json() for s in statuses], default=str))
    else:
        Console().print(list_table(statuses, time.time()))
