"""Following a cluster run: `launch train --wait` (phase and progress lines until it ends) and
`launch logs` (one attempt's log, or `-f`: every attempt of an index in turn, with a line where each ends).

Pods of an index are found by the Job controller's labels and ordered by creation, so attempt K is the
K-th pod created for it (shared/reference/kubernetes-run-status.md 2.3). A pod that has not started is
waited for. A log the kubelet cannot serve is one line, not an error: the follower goes on with the pod's
state, which the API server keeps. Through an outage of the API server both ride on (reconnect.py).

A followed log that breaks off or stays silent for FOLLOW_READ_SECONDS is re-opened from shortly before its
last line (LogCursor), never from the start, and the lines already printed are skipped by their timestamps:
no line is printed twice and none is lost.
"""

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from launcher.schema.contract import CONTAINER_NAME

from ..status.model import RunStatus
from .api import ClusterError, Dropped, Kube
from .ops import run_selector
from .reconnect import Reconnect
from .runstatus import ended, pod_index, run_status
from .watching import pod_views

Say = Callable[[str], None]
FOLLOW_READ_SECONDS = 120.0  # a followed log silent this long is re-opened (and the pod's state re-read)
# A re-opened log starts this long before the last line printed arrived (sinceSeconds counts on the node's
# clock, so the margin covers the line's way from the node; the lines it repeats are skipped).
LOG_OVERLAP_SECONDS = 10


def strip_timestamp(line: str) -> tuple[str, str]:
    """(timestamp, text) of a log line the kubelet prefixed with an RFC 3339 time (timestamps=true)."""
    stamp, sep, text = line.partition(" ")
    return (stamp, text) if sep and stamp[:4].isdigit() and "T" in stamp else ("", line)


def stamp_key(stamp: str) -> str:
    """A kubelet timestamp that sorts as the time it names: RFC 3339 in UTC with the fraction padded to 9
    digits (Go's RFC3339Nano drops trailing zeros, so "…50.1Z" would sort after "…50.123Z" as text)."""
    if not stamp.endswith("Z"):
        return stamp
    whole, _, fraction = stamp[:-1].partition(".")
    return f"{whole}.{fraction.ljust(9, '0')}Z"


@dataclass
class LogCursor:
    """How far one pod's log has been printed: the newest timestamp shown, how many lines carried exactly
    that timestamp, and when (monotonic seconds) the last of them arrived."""

    stamp: str = ""
    at_stamp: int = 0
    received: float | None = None

    def since_seconds(self, now: float) -> int | None:
        """The `sinceSeconds` to re-open the log with: from LOG_OVERLAP_SECONDS before the last line arrived;
        None (from the start) when nothing was printed yet. The python client has no `sinceTime`
        (kubernetes-client/python#1351, kubernetes/kubernetes#108498), and a relative time needs no
        agreement between this machine's clock and the node's."""
        return None if self.received is None else math.ceil(now - self.received) + LOG_OVERLAP_SECONDS

    def new_lines(self, lines: Iterable[str], clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
        """The texts of one stream's timestamped `lines` that were not printed before; advances the cursor."""
        start, printed = self.stamp, self.at_stamp  # where this stream must take over
        repeats = 0  # lines of this stream carrying the `start` timestamp
        for line in lines:
            stamp, text = strip_timestamp(line)
            key = stamp_key(stamp)
            if stamp and key < start:
                continue
            if stamp and key == start:
                repeats += 1
                if repeats <= printed:
                    continue
            if stamp:
                self.at_stamp = self.at_stamp + 1 if key == self.stamp else 1
                self.stamp = key
            self.received = clock()
            yield text


def index_pods(pods: list[dict], index: int) -> list[dict]:
    """The index's pods, oldest first (attempt order)."""
    return sorted((p for p in pods if pod_index(p) == index),
                  key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"]))


def pick(pods: list[dict], index: int, attempt: int | None) -> dict:
    """The pod of attempt `attempt` (from 1; None: the newest) of an index; ClusterError if there is none."""
    mine = index_pods(pods, index)
    if not mine or (attempt is not None and not 1 <= attempt <= len(mine)):
        have = f"attempts 1 to {len(mine)}" if mine else "no pod yet"
        raise ClusterError(f"index {index} has {have}" + (f"; no attempt {attempt}" if attempt else ""))
    return mine[(attempt or len(mine)) - 1]


def read_log(kube: Kube, pod: dict, tail: int | None) -> Iterator[str]:
    """A pod's log as it is now, without timestamps."""
    for line in kube.log(pod["metadata"]["name"], CONTAINER_NAME, tail=tail):
        yield strip_timestamp(line)[1]


def wait_run(kube: Kube, run_id: str, say: Say, window: int = 5, outage: Reconnect | None = None) -> RunStatus:
    """Print a line whenever the run's phase or an index's pod state changes; return the final status.
    Rides out API server outages through `outage` (default: notes on stderr, retry.OUTAGE_LIMIT_SECONDS)."""
    shown: tuple = ()
    outage = outage or Reconnect()
    for pods in pod_views(kube, run_selector(run_id), window, outage):
        job = outage.call(kube.job, run_id)
        if job is None:
            raise ClusterError(f"run {run_id}: its Job was deleted while waiting (`launch cancel`?)")
        status = run_status(job, pods)
        now = (status.status, *((i.index, i.state, i.attempts) for i in status.indexes))
        if now != shown:
            shown = now
            say(_progress(status))
        if status.finished:
            return status
    raise AssertionError("pod_views never ends")


def _progress(status: RunStatus) -> str:
    indexes = ", ".join(f"{i.index}:{i.state}" + (f"(attempt {i.attempts})" if i.attempts > 1 else "")
                        for i in status.indexes)
    step = f", committed step {status.committed_step}" if status.committed_step is not None else ""
    reason = f" ({status.reason})" if status.reason else ""
    return f"{status.run_id}: {status.status}{reason}; pods {indexes}; {status.preemptions} preemption(s), " \
           f"{status.failures} failure(s){step}"


class LogFollower:
    """`launch logs RUN -f --index N`: prints each attempt's log as it is written, a line where an attempt
    ends (and why), then the replacement's log; returns when the run has finished and every pod of the
    index has been shown."""

    def __init__(self, kube: Kube, run_id: str, index: int, out: Say, note: Say):
        self.kube, self.run_id, self.index, self.out, self.note = kube, run_id, index, out, note
        self.done: set[str] = set()  # uids of pods shown to their end
        self.cursors: dict[str, LogCursor] = {}  # uid -> how far its log was printed
        self.waiting: set[str] = set()  # uids announced as waiting
        self.outage = Reconnect(note)

    def run(self, window: int = 5) -> None:
        """Follow until the run has finished and every pod of the index was shown to its end."""
        for pods in pod_views(self.kube, run_selector(self.run_id), window, self.outage):
            mine = index_pods(pods, self.index)
            for attempt, pod in enumerate(mine, start=1):
                if pod["metadata"]["uid"] not in self.done:
                    self.show(pod, attempt)
                if pod["metadata"]["uid"] not in self.done:
                    break  # still running or waiting: its successors come after it
            if self._finished(mine):
                return

    def _finished(self, mine: list[dict]) -> bool:
        if any(p["metadata"]["uid"] not in self.done for p in mine):
            return False
        job = self.outage.call(self.kube.job, self.run_id)
        return job is None or run_status(job, []).finished

    def show(self, pod: dict, attempt: int) -> None:
        """Stream what the pod has written since last time; mark it done once it has ended."""
        uid, name = pod["metadata"]["uid"], pod["metadata"]["name"]
        state = (pod.get("status") or {}).get("phase", "Pending")
        if state == "Pending":
            if uid not in self.waiting:
                self.waiting.add(uid)
                self.note(f"── index {self.index} attempt {attempt}: pod {name} is not running yet; waiting ──")
            return
        self._stream(pod, follow=state == "Running")
        if state in ("Succeeded", "Failed"):
            self.done.add(uid)
            why = ended(pod) or "succeeded"
            self.note(f"── index {self.index} attempt {attempt} (pod {name}) ended: {why} ──")

    def _stream(self, pod: dict, follow: bool) -> None:
        uid, name = pod["metadata"]["uid"], pod["metadata"]["name"]
        cursor = self.cursors.setdefault(uid, LogCursor())
        try:
            lines = self.kube.log(name, CONTAINER_NAME, follow=follow, read=FOLLOW_READ_SECONDS,
                                  since_seconds=cursor.since_seconds(time.monotonic()))
            for text in cursor.new_lines(lines):
                self.out(text)
        except Dropped:
            return  # a quiet or cut stream: the next view re-opens it from the cursor
        except ClusterError as exc:
            if exc.status is None:
                return  # no answer from the API server: the pod view rides the outage out, then re-opens
            if uid not in self.waiting:
                self.waiting.add(uid)
                self.note(f"── log of pod {name} unavailable: {exc} ──")
