"""Pure retry rules for API calls: which answers are worth another try, and how long to wait before it.

The released Python client never retries 429 or 5xx (shared/reference/kubernetes-run-status.md 5.2), so
launcher/cluster/api.py does, with these rules: bounded exponential backoff with full jitter
(AWS Architecture Blog, "Exponential Backoff and Jitter"), and a server's Retry-After honoured, like
client-go's `checkWait` (capped so a misbehaving proxy cannot park the CLI).
"""

import random
from dataclasses import dataclass

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# How long a follower (`--wait`, `logs -f`) keeps trying without any answer from the API server before it gives
# up: longer than a control-plane upgrade or an apiserver restart (minutes), short enough that a cluster gone
# for good ends a CI step within its usual timeout. docs/cluster.md ("When the API server goes away") says so.
OUTAGE_LIMIT_SECONDS = 30 * 60


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts`: tries in all (the first included); delays in seconds: `base` * 2**n with full jitter,
    at most `cap`; a Retry-After header is waited out exactly, up to `retry_after_cap`."""

    attempts: int = 6
    base: float = 0.25
    cap: float = 8.0
    retry_after_cap: float = 30.0

    def delay(self, attempt: int, retry_after: str | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (from 1). `retry_after`: the header's value
        (delta-seconds; an HTTP date or junk falls back to the backoff)."""
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.retry_after_cap)
            except ValueError:
                pass
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return (rng or random).uniform(0, ceiling)


def retryable(status: int | None) -> bool:
    """Whether an HTTP status is worth another try: throttling (429) and server-side trouble (5xx gateway
    and availability errors). `None` means the connection dropped before any answer: also worth it."""
    return status is None or status in RETRIED_STATUSES


# A follower reconnects as client-go's reflector re-lists and re-watches: from 0.8 s, doubling, at most 30 s
# apart (k8s.io/client-go/tools/cache/reflector.go, the reflector's backoff manager), here with full jitter.
RECONNECT_BACKOFF = RetryPolicy(base=0.8, cap=30.0)
