"""Riding out an API server outage while following a run (`launch train --wait`, `logs -f`, `sweep --wait`).

Every call already goes through Kube's own retries (retry.RetryPolicy: a few seconds). A control-plane upgrade
or an apiserver restart lasts minutes, and the run goes on meanwhile, so a follower keeps trying past that:
with capped exponential back-off (retry.RECONNECT_BACKOFF, as client-go's reflector re-lists and re-watches),
a line on stderr before each new try and one when the API server answers again. It gives up at once on an
answer that waiting cannot change (401, 403, 404 and every other status but 429 and 5xx), and after
retry.OUTAGE_LIMIT_SECONDS without an answer.
"""

import sys
import time
from collections.abc import Callable
from typing import TypeVar

from .api import ClusterError
from .retry import OUTAGE_LIMIT_SECONDS, RECONNECT_BACKOFF, RetryPolicy, retryable

Say = Callable[[str], None]
T = TypeVar("T")


def to_stderr(line: str) -> None:
    """Print a follower's note on stderr (stdout stays the command's own output)."""
    print(line, file=sys.stderr, flush=True)


class GaveUp(ClusterError):
    """The API server has not answered for the whole outage limit: following ends (exit 2)."""


class Reconnect:
    """One follower's view of the API server's availability. `note`: where the reconnect lines go;
    `limit`: seconds without any answer before giving up; `clock`/`sleep`: monotonic seconds (tests pass
    fakes)."""

    def __init__(self, note: Say = to_stderr, limit: float = OUTAGE_LIMIT_SECONDS,
                 backoff: RetryPolicy = RECONNECT_BACKOFF, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.note, self.limit, self.backoff, self.clock, self.sleep = note, limit, backoff, clock, sleep
        self.since: float | None = None  # when the current outage began (None: the API server answers)
        self.tries = 0

    def call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """`fn(*args, **kwargs)`, tried again through an outage; raises what `failed` raises."""
        while True:
            try:
                result = fn(*args, **kwargs)
            except ClusterError as exc:
                self.failed(exc)
                continue
            self.answered()
            return result

    def failed(self, exc: ClusterError) -> None:
        """Wait before the next try after `exc`, saying so. Raises `exc` itself when waiting cannot change
        the answer, and a ClusterError naming the limit once the outage has lasted that long."""
        if isinstance(exc, GaveUp) or not retryable(exc.status):
            raise exc
        now = self.clock()
        self.since = now if self.since is None else self.since
        self.tries += 1
        down = now - self.since
        if down >= self.limit:
            raise GaveUp(f"{exc} (the API server has not answered for {down:.0f} s: stopped following "
                               f"after {self.limit:.0f} s; the run itself goes on, see `launch status`)",
                               exc.status) from None
        delay = min(self.backoff.delay(min(self.tries, 16)), self.limit - down)
        self.note(f"reconnecting to the API server in {delay:.1f} s (no answer for {down:.0f} s: {exc})")
        self.sleep(delay)

    def answered(self) -> None:
        """The API server answered: end the outage, saying how long it lasted."""
        if self.since is not None:
            self.note(f"reconnected to the API server after {self.clock() - self.since:.0f} s")
        self.since, self.tries = None, 0
