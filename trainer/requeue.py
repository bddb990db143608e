"""Requeue or give up: a broken gang is a requeue, not a crash, and requeues that gain no step are counted so
a run cannot loop forever under the Job's Ignore rule (DESIGN.md, exit codes)."""

import json
from contextlib import contextmanager

from launcher.schema import Experiment

from .checkpoints.catalog import read_json
from .checkpoints.store import Store
from .failures import WAITING, distributed_failure
from .preemption import PreemptionSafe

REQUEUES = "requeues.json"


class PeerLost(Exception):
    """The gang broke (a peer vanished) or never formed: the process should exit with the requeue code."""


class RequeueLoop(Exception):
    """Requeued again and again without a new checkpoint: stop with a crash code instead of looping."""


@contextmanager
def requeue_if_the_gang_breaks(safe: PreemptionSafe, store: Store, exp: Experiment, start_step: int, rank: int):
    """Collectives (in fit, the weights digest, the test's metric sync) fail when a peer vanishes: that is
    a requeue, not a crash (after fit, the last step is committed already). Anything else propagates."""
    try:
        yield
    except Exception as exc:
        if (requeue := _requeue_for(exc, safe, store, exp, start_step, rank)) is None:
            raise
        raise requeue from exc


def _requeue_for(exc: Exception, safe: PreemptionSafe, store: Store, exp: Experiment, start_step: int,
                 rank: int) -> "PeerLost | None":
    """A requeue when the gang itself broke; None for a crash. Counted toward max_requeues_without_progress
    only when this attempt trained and still committed nothing: waiting for a peer to be scheduled, or
    losing one before any step, is not a failure."""
    kind = distributed_failure(exc, safe.gang_formed)
    if kind is None:
        return None
    summary = str(exc).splitlines()[0][:200]
    if kind == WAITING:
        return PeerLost(f"the gang did not form in time (a peer not scheduled yet?): {summary}")
    if safe.trained:
        count_requeue(store, exp, start_step, safe.writer.last_written or start_step, rank)
    return PeerLost(f"lost a peer ({summary})")


def count_requeue(store: Store, exp: Experiment, start_step: int, stop_step: int, rank: int) -> None:
    """A requeue with no step gained counts; enough in a row and the run stops instead of looping.
    Rank 0 keeps the count: when it is the rank that vanished, that requeue goes uncounted."""
    state = read_json(store, REQUEUES, {"without_progress": 0})
    count = 0 if stop_step > start_step else state["without_progress"] + 1
    if rank == 0:
        store.write("", REQUEUES, json.dumps({"without_progress": count, "step": stop_step}).encode())
    limit = exp.checkpoint.max_requeues_without_progress
    if count >= limit:
        raise RequeueLoop(f"requeued {count} times in a row at step {stop_step} without a new checkpoint "
                          f"(checkpoint.max_requeues_without_progress={limit}); giving up")
