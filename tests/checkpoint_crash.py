"""One rank of a checkpointing attempt that dies (os._exit, like SIGKILL) right after one of its filesystem
writes (an open for writing, an fsync, a rename, an unlink or a rmdir, on any of its threads).

    python -m tests.checkpoint_crash ROOT RANK WORLD FIRST_STEP STEPS KEEP_LAST CRASH ATTEMPT [tensors]

CRASH is a number N (die after the Nth write), `LABEL@N` (die after the Nth write whose label, such as
`open:trainer.pt`, `fsync:rank-1.pt` or `replace:manifest.json`, starts with LABEL), or 0 (no crash).
Rank 0 first reclaims what killed attempts left (as the trainer does at start-up), then each rank "trains"
STEPS steps from FIRST_STEP on, saving after each as PreemptionSafe does: wait for the previous save, hand
a snapshot of the live state to the writer, and change the live state at once (the next step), while the
save runs in the background. Rank 0 prints "committed N" once it has seen step N committed.

The live state is a bytearray, or with `tensors` a torch tensor snapshotted by trainer.checkpoints.snapshot
and written with torch.save (state.TorchFile, as the trainer does). Every step's state is `payload(rank, step)`, so a test can tell a checkpoint
that verifies but holds another step's state. The crash is injected at the OS boundary, outside the code
under test.
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


def crash_after(spec: str) -> None:
    """Wrap the filesystem writes so the process dies right after the one `spec` names (see above)."""
    label, _, count = spec.rpartition("@")
    seen, lock = [0], threading.Lock()

    def counted(real, kind, is_write=lambda *a, **k: True, path=lambda first, *a, **k: first):
        def call(*args, **kwargs):
            result = real(*args, **kwargs)
            if is_write(*args, **kwargs) and f"{kind}:{_name(path(*args, **kwargs))}".startswith(label):
                with lock:
                    seen[0] += 1
                    if seen[0] == int(count):
                        os._exit(137)
            return result
        return call

    writes = lambda file, mode="r", *a, **k: any(c in mode for c in "wax+")  # noqa: E731
    builtins.open = counted(builtins.open, "open", writes)
    os.fsync = counted(os.fsync, "fsync")
    os.replace = counted(os.replace, "replace", path=lambda src, dst, *a, **k: dst)
    for name in ("unlink", "rmdir"):
        setattr(os, name, counted(getattr(os, name), name))


def _name(target) -> str:
    """The file name a write touched (an fsync names its descriptor)."""
    if isinstance(target, int):
        target = os.readlink(f"/proc/self/fd/{target}")
    return Path(target).name


def payload(rank: int, step: int) -> dict[str, bytes]:
    data = f"rank {rank} step {step} ".encode() * (500 + step)
    return {"trainer.pt": data, f"rank-{rank}.pt": data[::-1]} if rank == 0 else {f"rank-{rank}.pt": data}


def as_written(data: bytes, tensors: bool):
    """What a checkpoint file of `data` holds once loaded (the bytes, or the tensor torch.save wrote)."""
    if not tensors:
        return bytearray(data)
    import torch
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).clone()  # its own storage: it can grow


class LiveState:
    """A rank's training state, changed in place at every step, as training changes its tensors."""

    def __init__(self, rank: int, first: int, tensors: bool):
        self.rank, self.tensors = rank, tensors
        self.files = {name: as_written(data, tensors) for name, data in payload(rank, first).items()}
        if tensors:
            from trainer.checkpoints.snapshot import Snapshot
            self.snapshot = Snapshot()

    def step_to(self, step: int) -> None:
        """In place; a later step's payload is longer, so the buffers grow, as optimizer state appears."""
        for name, data in payload(self.rank, step).items():
            if self.tensors:
                self.files[name].resize_(len(data)).copy_(as_written(data, True))
            else:
                self.files[name][:] = data

    def serialisers(self) -> dict:
        """A snapshot of the state, as the files the writer serialises in the background."""
        if self.tensors:
            from trainer.checkpoints.state import TorchFile
            return {n: TorchFile(t) for n, t in self.snapshot.take(self.files).items()}
        return {n: lambda fh, d=bytes(data): fh.write(d) for n, data in self.files.items()}


def main(root, rank, world, first, steps, keep_last, crash, attempt, tensors=False) -> None:
    store = LocalStore(Path(root))
    if crash != "0":
        crash_after(crash if "@" in crash else f"@{crash}")
    if rank == 0:
        reclaim_newer_than(store, first - 1 if first > 1 else None)
        (Path(root) / READY).touch()
    deadline = time.monotonic() + 5  # in the trainer a collective orders this, and times out
    while not (Path(root) / READY).exists():
        if time.monotonic() > deadline:
            sys.exit("rank 0 never came up")
        time.sleep(0.01)
    writer = CheckpointWriter(store, rank, world, keep_last, log=lambda m: None, peer_timeout=1.5, attempt=attempt)
    live = LiveState(rank, first, tensors)
    for step in range(first, first + steps):
        writer.flush()  # one save in flight: the one before this is written (and, on rank 0, committed)
        if rank == 0 and step > first:
            print(f"committed {step - 1}", flush=True)
        writer.submit(step, 0, live.serialisers(), started=time.monotonic())
        live.step_to(step + 1)  # training goes on while the save is written
    writer.drain()
    if rank == 0:
        print(f"committed {first + steps - 1}", flush=True)


if __name__ == "__main__":
    root, rank, world, first, steps, keep_last, crash, attempt, *mode = sys.argv[1:]
    main(root, *map(int, (rank, world, first, steps, keep_last)), crash, attempt, tensors=mode == ["tensors"])
