"""The local runner on a terminal: one live bar for the gang's training, every other line printed above it.

Off a terminal (a pipe, a file, CI) the plain Echo prints the trainer's timestamped step lines as they are.
"""

import re
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from ..schema.contract import STEP_LINE
from .echo import Echo

STEP = re.compile(STEP_LINE)


class TerminalEcho(Echo):
    """Rank 0's step lines move one bar: epoch, step of total, then loss, samples/s and ETA as the trainer
    measured them over the current attempt, so they stay right after a resume. Everything else is printed
    above the bar, as written (no markup, no wrapping)."""

    def __init__(self, stream: TextIO):
        super().__init__(stream)
        self.console = Console(file=stream, markup=False, highlight=False, soft_wrap=True)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed:.0f}/{task.total:.0f}"),
                                 TextColumn("{task.fields[detail]}"), console=self.console)
        self.task: TaskID | None = None

    def line(self, text: str) -> None:
        with self.lock:
            if (match := STEP.search(text)) is not None:
                self._advance(match)
            else:
                self.console.print(text)

    def close(self) -> None:
        """Leave the bar where it ended; later output goes below it."""
        with self.lock:
            self.progress.stop()

    def _advance(self, match: re.Match) -> None:
        step = match.groupdict()
        detail = " · ".join(part for part in (
            step["loss"] and f"loss {step['loss']}",
            step["samples_per_s"] and f"{step['samples_per_s']} samples/s",
            step["eta"] and f"ETA {step['eta']}") if part)
        fields = {"description": f"epoch {step['epoch']}/{step['epochs']}", "completed": int(step["step"]),
                  "total": int(step["total"]), "detail": detail}
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task(**fields)
        else:
            self.progress.update(self.task, **fields)


def echo_for(stream: TextIO) -> Echo:
    """A live bar on a terminal, plain lines anywhere else."""
    return TerminalEcho(stream) if stream.isatty() else Echo(stream)
