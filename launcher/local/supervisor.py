"""Job semantics on this machine: requeue restarts the gang for free, bad config fails at once, crashes
count toward backoffLimit, the deadline is honoured, and preemption drills rehearse a spot notice."""

import random
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..schema import EXIT_BAD_CONFIG, EXIT_OK, EXIT_REQUEUE
from .echo import Echo
from .gang import Gang
from .pod import LocalPod
from .state import RunState

KILLED = (-signal.SIGKILL, -signal.SIGTERM)


@dataclass(frozen=True)
class Drill:
    """Send SIGTERM to one index `after` seconds into an attempt's training (index None: one at random)."""

    after: float
    index: int | None = None


class Cancelled(Exception):
    """Ctrl-C: the gang was stopped as a node drain would stop it."""


class Supervisor:
    def __init__(self, pod: LocalPod, folder: Path, state: RunState, drills: list[Drill], echo: Echo,
                 rng: random.Random | None = None):
        self.pod, self.folder, self.state, self.echo = pod, folder, state, echo
        self.drills = list(drills)
        self.rng = rng or random.Random()
        self.started = time.monotonic()

    def run(self) -> RunState:
        """Attempts until the Job succeeds or fails. Raises Cancelled on Ctrl-C or SIGTERM to the launcher."""
        previous = signal.signal(signal.SIGTERM, _interrupt)  # a cancelled CI job stops the gang too
        try:
            return self._attempts()
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _attempts(self) -> RunState:
        state = self.state
        while state.status not in ("Succeeded", "Failed"):
            state.attempts += 1
            state.status = "Running"
            state.save(self.folder)
            drill = self.drills.pop(0) if self.drills else None
            codes, drilled, gang = self._attempt(state.attempts, drill)
            state.history.append({"attempt": state.attempts, "exit_codes": codes, "drill": drilled})
            self._judge(codes, drilled, gang)
            state.save(self.folder)
        return state

    def _attempt(self, attempt: int, drill: Drill | None) -> tuple[list[int], bool, Gang]:
        gang = Gang(self.pod, self.folder, attempt, self.echo)
        self._say(f"attempt {attempt}: starting {self.pod.completions} index(es)")
        gang.start()
        drilled = False
        try:
            while None in (codes := gang.codes()):
                since = gang.training_since
                if drill and not drilled and since is not None and time.monotonic() - since >= drill.after:
                    drilled = True
                    self._preempt(gang, drill)
                    break
                if any(code not in (None, EXIT_OK) for code in codes) or self._past_deadline():
                    gang.stop(self.pod.grace_seconds)  # the gang stands or falls together
                    break
                time.sleep(0.1)
        except KeyboardInterrupt:
            with uninterruptible(lambda: self._say("still stopping: the trainers are committing checkpoints")):
                self._say("interrupted: stopping every index (SIGTERM, SIGKILL after the grace period)")
                gang.stop(self.pod.grace_seconds)
                self.state.history.append({"attempt": attempt, "exit_codes": gang.codes(), "drill": False})
                self.state.status, self.state.reason = "Cancelled", "interrupted; rerun the same command to resume"
                self.state.save(self.folder)
            raise Cancelled() from None
        gang.wait(None)
        return gang.codes(), drilled, gang

    def _preempt(self, gang: Gang, drill: Drill) -> None:
        index = drill.index if drill.index is not None else self.rng.randrange(self.pod.completions)
        self._say(f"preemption drill: SIGTERM to index {index}; SIGKILL after {self.pod.grace_seconds} s")
        gang.signal(index, signal.SIGTERM)
        gang.wait(self.pod.grace_seconds)
        gang.kill()

    def _judge(self, codes: list[int], drilled: bool, gang: Gang) -> None:
        state = self.state
        if all(code == EXIT_OK for code in codes):
            state.status = "Succeeded"
        elif EXIT_BAD_CONFIG in codes:
            self._fail(gang, codes.index(EXIT_BAD_CONFIG), "bad config or data (exit 2): not retried")
        elif self._past_deadline():
            self._fail(gang, 0, f"DeadlineExceeded: ran past activeDeadlineSeconds={self.pod.deadline_seconds}")
        elif all(code in (EXIT_OK, EXIT_REQUEUE, *KILLED) for code in codes) and (drilled or EXIT_REQUEUE in codes):
            state.preemptions += 1
            self._say(f"requeued (exit codes {codes}): restarting the gang, not counted as a failure")
        else:
            state.failures += 1
            index = next(i for i, code in enumerate(codes) if code not in (EXIT_OK, EXIT_REQUEUE, *KILLED))
            if state.failures > self.pod.backoff_limit:
                self._fail(gang, index, f"BackoffLimitExceeded: {state.failures} crash(es), backoffLimit "
                                        f"{self.pod.backoff_limit}")
            else:
                self._say(f"index {index} crashed (exit {codes[index]}): failure {state.failures} of "
                          f"{self.pod.backoff_limit} allowed, retrying")

    def _fail(self, gang: Gang, index: int, reason: str) -> None:
        self.state.status, self.state.reason = "Failed", reason
        self._say(f"failed: {reason}; last lines of index {index}:")
        for line in gang.tail(index):
            self._say(f"  | {line}")

    def _past_deadline(self) -> bool:
        deadline = self.pod.deadline_seconds
        return bool(deadline) and time.monotonic() - self.started > deadline

    def _say(self, message: str) -> None:
        self.echo.line(f"[job] {message}")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextmanager
def uninterruptible(notice: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM only call `notice` inside: a second Ctrl-C must not orphan the trainers (they run
    in sessions of their own) mid-save, nor leave run.json saying Running."""
    handler = lambda signum, frame: notice()  # noqa: E731
    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
