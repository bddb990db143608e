"""What a checkpoint holds beyond Lightning's own state: every RNG and the sampler position, per rank."""

import io
import random
from dataclasses import dataclass

import numpy as np
import torch

TRAINER_FILE = "trainer.pt"  # Lightning's full state: weights, optimizer, scheduler, scaler, loop progress


def rank_file(rank: int) -> str:
    return f"rank-{rank}.pt"


@dataclass(frozen=True)
class ResumePoint:
    """A verified checkpoint, loaded: the step it was taken at and the bytes this rank needs."""

    step: int
    trainer_state: bytes
    rank_state: dict
    save_seconds: float
    committed: float  # wall time (s since the epoch) its manifest was committed


class TorchFile:
    """A checkpoint file's serialiser (see writer.Serialiser): torch.save of `obj`. `owned` names the memory
    of its CPU tensors, which the caller keeps unchanged until the save is done (a snapshot, or the state of
    a training that has stopped), so the hash may read those bytes after torch.save has written them."""

    def __init__(self, obj):
        self.obj = obj
        self.owned = _cpu_storages(obj, {})

    def __call__(self, fh) -> None:
        torch.save(self.obj, fh)


def _cpu_storages(obj, found: dict) -> list[tuple[int, int]]:
    """(start, end) addresses of the CPU tensors' storages in nested dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor) and obj.device.type == "cpu" and obj.layout == torch.strided:
        storage = obj.untyped_storage()
        found[storage.data_ptr()] = storage.data_ptr() + storage.nbytes()
    elif isinstance(obj, dict):
        for value in obj.values():
            _cpu_storages(value, found)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _cpu_storages(value, found)
    return sorted(found.items())


def to_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def from_bytes(data: bytes):
    # Our own files, verified against the manifest's sha256 before they are loaded.
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)


def capture_rng() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
