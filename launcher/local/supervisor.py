"""Job semantics on this machine, pod by pod: a failed index alone is replaced (after the controller's
Job-wide back-off, together with any other index that failed meanwhile) while the others keep running; requeues and disruptions are free, bad config fails the Job at
once, crashes count toward backoffLimit, the deadline is honoured. Drills rehearse a spot notice (SIGTERM,
SIGKILL after the grace period) or a node that vanishes without notice (SIGKILL to the whole pod)."""

import random
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..schema.contract import STEP_REACHED, TRAINING_STARTED
from .echo import Echo
from .jobrules import JobBackoff, judge_pod
from .pod import LocalPod
from .pods import PodProcess, free_port, stop_all
from ..schema.contract import utc_stamp
from .state import RunState


# The step rank 0 reported, or the one a SIGTERM committed.
STEP = re.compile(rf"{STEP_REACHED} (\d+)/|stopped at step (\d+) on SIGTERM")
RESUMED = re.compile(rf"{TRAINING_STARTED} (\d+) ")
ERROR_LINE = re.compile(r"(?<![\w-])(error: .*)$")  # the trainer's last word before exit 2 or 1
EVENTS = "events.log"


@dataclass(frozen=True)
class Drill:
    """`after` seconds into the gang's training, SIGTERM one index (a spot notice; SIGKILL after the grace
    period) or, with `kill`, SIGKILL all its processes at once (a lost node). Index None: one at random."""

    after: float
    index: int | None = None
    kill: bool = False


class Cancelled(Exception):
    """Ctrl-C (or SIGTERM to the launcher): every pod was stopped as a node drain would stop it."""


class Supervisor:
    """Runs the Job's pods until the Job succeeds, fails or is cancelled: one run of the Job, whose crashes
    count toward its backoffLimit from zero whatever earlier runs of the same run id counted (as a cluster's
    `launch resume` submits a new Job). `backoff_base`: the controller's first back-off step in seconds (10
    on a cluster)."""

    def __init__(self, pod: LocalPod, folder: Path, state: RunState, drills: list[Drill], echo: Echo,
                 rng: random.Random | None = None, backoff_base: float = 10.0):
        self.pod, self.folder, self.state, self.echo = pod, folder, state, echo
        self.drills, self.rng, self.backoff_base = list(drills), rng or random.Random(), backoff_base
        self.started = time.monotonic()
        self.port = free_port()  # the rendezvous endpoint: fixed for the run, like a Service's port
        self.pods: dict[int, PodProcess] = {}
        self.missing: set[int] = set(range(pod.completions))  # indexes without a pod, created together
        self.backoff = JobBackoff(backoff_base)
        self.done: set[int] = set()
        self.disrupted: dict[tuple[int, int], str] = {}  # (index, attempt) -> drill kind
        self.kill_at: dict[int, float] = {}
        self.crashes = 0  # counted failures of this run of the Job, for its backoffLimit
        self.training_since: float | None = None
        self.step = 0  # the newest step rank 0 reported
        self.lost_at_step: int | None = None  # the step reached when the gang last lost a pod

    def run(self) -> RunState:
        """Raises Cancelled on Ctrl-C or SIGTERM to the launcher (a cancelled CI job stops the pods too)."""
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return self._run()
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _run(self) -> RunState:
        self.state.status, self.state.job_run = "Running", self.state.job_run + 1
        self.state.save(self.folder)
        if self.state.job_run > 1:
            self._say(f"run {self.state.job_run} of the Job: its crashes count toward backoffLimit "
                      f"{self.pod.backoff_limit} from zero ({self.state.failures} counted before)")
        try:
            while self.state.status == "Running":
                self._step()
                time.sleep(0.1)
        except KeyboardInterrupt:
            with uninterruptible(lambda: self._say("still stopping: the trainers are committing checkpoints")):
                self._say("interrupted: stopping every index (SIGTERM, SIGKILL after the grace period)")
                self._stop_running("Cancelled", "interrupted; rerun the same command to resume")
            raise Cancelled() from None
        return self.state

    def _step(self) -> None:
        now = time.monotonic()
        if self.missing and not self.backoff.remaining(now):
            for index in sorted(self.missing):
                self._start(index)
        for index, pod in list(self.pods.items()):
            if self.state.status != "Running":
                return
            if (code := pod.poll()) is not None:
                self._ended(index, pod, code)
            elif self.kill_at.get(index, now + 1) <= now:
                pod.kill()  # the grace period of a drill's SIGTERM is over
        self._drill()
        if self.state.status == "Running" and len(self.done) == self.pod.completions:
            self.state.status = "Succeeded"
            self.state.save(self.folder)
        if self.state.status == "Running" and self._past_deadline():
            self._stop_running("Failed", f"DeadlineExceeded: ran past activeDeadlineSeconds={self.pod.deadline_seconds}")

    def _start(self, index: int) -> None:
        self.missing.discard(index)
        attempt = self.state.last_attempt(index) + 1
        self._say(f"index {index}: starting attempt {attempt}")
        self.pods[index] = PodProcess(self.pod, self.folder, index, attempt, self.port, self.echo, self._line)
        self.state.attempts += 1
        self.state.record_start(index, attempt)
        self.state.save(self.folder)

    def _ended(self, index: int, pod: PodProcess, code: int) -> None:
        pod.kill()  # an agent that exited leaves no worker behind
        del self.pods[index]
        self.kill_at.pop(index, None)
        drill = self.disrupted.get((index, pod.attempt))
        self.state.record_exit(index, pod.attempt, code, drill, self.step)
        if code:
            self.lost_at_step = self.step if self.lost_at_step is None else self.lost_at_step
        verdict = judge_pod(code, disrupted=drill is not None)
        if verdict.action == "done":
            self.done.add(index)
            self.backoff.succeeded()
        elif verdict.action == "fail":
            self.state.failures += 1  # the Job's status.failed counts the pod that failed it
            self.crashes += 1
            self._fail(pod, _with_error_line(verdict.reason, pod.tail()))
        else:
            self._replace(index, pod, verdict)
        self.state.save(self.folder)

    def _replace(self, index: int, pod: PodProcess, verdict) -> None:
        state = self.state
        now = time.monotonic()
        self.backoff.failed(now)
        if verdict.counted:
            state.failures += 1
            self.crashes += 1
            if self.crashes > self.pod.backoff_limit:
                self._fail(pod, f"BackoffLimitExceeded: {self.crashes} crash(es), backoffLimit {self.pod.backoff_limit}")
                return
        else:
            state.preemptions += 1
        delay = self.backoff.remaining(now)
        counted = f"failure {self.crashes} of {self.pod.backoff_limit} allowed" if verdict.counted else "not counted"
        self._say(f"index {index} attempt {pod.attempt} ended: {verdict.reason}; replacing it "
                  f"({counted}){f' in {delay:.0f} s (the Job-wide pod-failure back-off)' if delay else ''}")
        self.missing.add(index)

    def _fail(self, pod: PodProcess, reason: str) -> None:
        self._say(f"failed: {reason}; last lines of index {pod.index}:")
        for line in pod.tail():
            self._say(f"  | {line}")
        self._stop_running("Failed", reason)

    def _stop_running(self, status: str, reason: str) -> None:
        """Stop every running pod gracefully and record the outcome, whatever happens."""
        self.state.status, self.state.reason = status, reason
        self.missing.clear()
        stop_all(list(self.pods.values()), self.pod.grace_seconds)
        for index, pod in self.pods.items():
            drill = self.disrupted.get((index, pod.attempt))
            self.state.record_exit(index, pod.attempt, pod.poll(), drill, self.step)
        self.pods.clear()
        self.state.save(self.folder)

    def _line(self, index: int, line: str) -> None:
        """Follow rank 0's progress: training (re)started, step reached, steps replayed after a loss."""
        if match := STEP.search(line):
            self.step = int(match.group(1) or match.group(2))
        elif match := RESUMED.search(line):  # printed by global rank 0 each time the gang (re)starts training
            self.training_since = time.monotonic()
            self.state.record_resume(int(match.group(1)))
            self.state.save(self.folder)
            if self.lost_at_step is not None:
                resumed = int(match.group(1))
                self._say(f"resumed from the checkpoint at step {resumed}: {max(0, self.lost_at_step - resumed)} "
                          f"step(s) replayed (the gang had reported step {self.lost_at_step})")
                self.lost_at_step = None

    def _drill(self) -> None:
        since = self.training_since
        if not self.drills or since is None or time.monotonic() - since < self.drills[0].after:
            return
        index = self.drills[0].index
        index = index if index is not None else self.rng.randrange(self.pod.completions)
        pod = self.pods.get(index)
        if pod is None:
            return  # that index is being replaced: drill once it runs again
        drill, self.training_since = self.drills.pop(0), None
        self.disrupted[(index, pod.attempt)] = "kill" if drill.kill else "preempt"
        if drill.kill:
            self._say(f"hard-kill drill at step {self.step}: SIGKILL to every process of index {index}, no notice")
            pod.kill()
        else:
            self._say(f"preemption drill: SIGTERM to index {index}; SIGKILL after {self.pod.grace_seconds} s")
            pod.terminate()
            self.kill_at[index] = time.monotonic() + self.pod.grace_seconds

    def _past_deadline(self) -> bool:
        deadline = self.pod.deadline_seconds
        return bool(deadline) and time.monotonic() - self.started > deadline

    def _say(self, message: str) -> None:
        """Echo one of the supervisor's lines and keep it, timestamped, in the run's events.log."""
        self.echo.line(f"[job] {message}")
        with open(self.folder / EVENTS, "a") as events:
            events.write(f"{utc_stamp()} {message}\n")


def _with_error_line(reason: str, tail: list[str]) -> str:
    """The Job's reason, with the trainer's own last `error:` line when it printed one."""
    errors = [match.group(1) for line in tail if (match := ERROR_LINE.search(line))]
    return f"{reason}: {errors[-1]}" if errors else reason


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextmanager
def uninterruptible(notice: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM only call `notice` inside: a second Ctrl-C must not orphan the trainers (they run
    in sessions of their own) mid-save, nor leave run.json saying Running. `notice` runs on a thread of its
    own: the signal may land while the main thread holds the echo's lock, and a handler that printed itself
    would wait on that lock forever."""
    handler = lambda signum, frame: threading.Thread(target=notice, daemon=True).start()  # noqa: E731
    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
