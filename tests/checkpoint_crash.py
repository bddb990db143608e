"""One rank of a checkpointing attempt that dies (os._exit, like SIGKILL) right after its Nth filesystem
write: an open for writing, an fsync, a rename, an unlink or a rmdir, on any of its threads.

    python -m tests.checkpoint_crash ROOT RANK WORLD FIRST_STEP STEPS KEEP_LAST CRASH_AT ATTEMPT

Rank 0 first reclaims what killed attempts left (as the trainer does at start-up), then each rank stages
and submits STEPS saves from FIRST_STEP on; rank 0 prints "committed N" once step N is committed.
CRASH_AT 0 means no crash. The crash is injected at the OS boundary, outside the code under test.
"""

import builtins
import os
import sys
import threading
import time
from pathlib import Path

from trainer.checkpoints.catalog import reclaim_newer_than
from trainer.checkpoints.store import LocalStore
from trainer.checkpoints.writer import CheckpointWriter

READY = ".rank0-ready"


def crash_after(count: int) -> None:
    """Wrap the filesystem writes so the process dies right after the `count`th one."""
    seen, lock = [0], threading.Lock()

    def counted(real, is_write=lambda *a, **k: True):
        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            if is_write(*args, **kwargs):
                with lock:
                    seen[0] += 1
                    if seen[0] == count:
                        os._exit(137)
            return result
        return call

    writes = lambda file, mode="r", *a, **k: any(c in mode for c in "wax+")  # noqa: E731
    builtins.open = counted(builtins.open, writes)
    for name in ("fsync", "replace", "unlink", "rmdir"):
        setattr(os, name, counted(getattr(os, name)))


def payload(rank: int, step: int) -> dict[str, bytes]:
    data = f"rank {rank} step {step} ".encode() * (500 + step)
    return {"trainer.pt": data, f"rank-{rank}.pt": data[::-1]} if rank == 0 else {f"rank-{rank}.pt": data}


def main(root, rank, world, first, steps, keep_last, crash_at, attempt) -> None:
    store = LocalStore(Path(root))
    if crash_at:
        crash_after(crash_at)
    if rank == 0:
        reclaim_newer_than(store, first - 1 if first > 1 else None)
        (Path(root) / READY).touch()
    deadline = time.monotonic() + 3  # in the trainer a collective orders this, and times out
    while not (Path(root) / READY).exists():
        if time.monotonic() > deadline:
            sys.exit("rank 0 never came up")
        time.sleep(0.01)
    writer = CheckpointWriter(store, rank, world, keep_last, log=lambda m: None, peer_timeout=1.5, attempt=attempt)
    for step in range(first, first + steps):
        names = [writer.stage(step, n, lambda fh, d=d: fh.write(d)) for n, d in payload(rank, step).items()]
        writer.submit(step, 0, names, started=time.monotonic())
        writer.flush()
        if rank == 0:
            print(f"committed {step}", flush=True)
    writer.drain()


if __name__ == "__main__":
    root, *numbers, attempt = sys.argv[1:]
    main(root, *map(int, numbers), attempt)
