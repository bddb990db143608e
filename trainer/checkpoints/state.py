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
