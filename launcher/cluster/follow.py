"""Following a cluster run: `launch train --wait` (phase and progress lines until it ends) and
`launch logs` (one attempt's log, or `-f`: every attempt of an index in turn, with a line where each ends).

Pods of an index are found by the Job controller's labels and ordered by creation, so attempt K is the
K-th pod created for it (shared/reference/kubernetes-run-status.md 2.3). A pod that has not started is
waited for. A log the kubelet cannot serve is one line, not an error: the follower goes on with the pod's
state, which the API server keeps.
"""

from collections.abc import Callable, Iterator

from launcher.schema.contract import CONTAINER_NAME

from ..status.model import RunStatus
from .api import ClusterError, Dropped, Kube
from .ops import run_selector
from .runstatus import ended, pod_index, run_status
from .watching import pod_views

Say = Callable[[str], None]
FOLLOW_READ_SECONDS = 120.0  # a followed log silent this long is re-opened (and the pod's state re-read)


def strip_timestamp(line: str) -> tuple[str, str]:
    """(timestamp, text) of a log line the kubelet prefixed with an RFC 3339 time (timestamps=true)."""
    stamp, sep, text = line.partition(" ")
    return (stamp, text) if sep and stamp[:4].isdigit() and "T" in stamp else ("", line)


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


def wait_run(kube: Kube, run_id: str, say: Say, window: int = 5) -> RunStatus:
    """Print a line whenever the run's phase or an index's pod state changes; return the final status."""
    shown: tuple = ()
    for pods in pod_views(kube, run_selector(run_id), window):
        job = kube.job(run_id)
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
        self.last_stamp: dict[str, str] = {}  # uid -> timestamp of the last line printed
        self.waiting: set[str] = set()  # uids announced as waiting

    def run(self, window: int = 5) -> None:
        """Follow until the run has finished and every pod of the index was shown to its end."""
        for pods in pod_views(self.kube, run_selector(self.run_id), window):
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
        job = self.kube.job(self.run_id)
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
        try:
            for line in self.kube.log(name, CONTAINER_NAME, follow=follow, read=FOLLOW_READ_SECONDS):
                stamp, text = strip_timestamp(line)
                if stamp and stamp <= self.last_stamp.get(uid, ""):
                    continue  # already printed before a reconnect
                self.last_stamp[uid] = stamp or self.last_stamp.get(uid, "")
                self.out(text)
        except Dropped:
            return  # a quiet or cut stream: the next view re-opens it, skipping lines already printed
        except ClusterError as exc:
            if uid not in self.waiting:
                self.waiting.add(uid)
                self.note(f"── log of pod {name} unavailable: {exc} ──")

