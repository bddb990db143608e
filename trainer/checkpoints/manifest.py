"""The commit record of a checkpoint. A checkpoint without a valid manifest does not exist."""

import bisect
import hashlib
import json
import re
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable

MANIFEST = "manifest.json"
STEP_DIR = re.compile(r"^step-(\d{10})$")


@dataclass(frozen=True)
class FileEntry:
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    step: int
    epoch: int
    created: float
    world_size: int
    files: dict[str, FileEntry]
    save_seconds: float = 0.0
    meta: dict = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        raw = json.loads(data)
        raw["files"] = {name: FileEntry(**entry) for name, entry in raw["files"].items()}
        return cls(**raw)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.files.values())


def digest(data: bytes) -> FileEntry:
    return FileEntry(len(data), hashlib.sha256(data).hexdigest())


class HashingFile:
    """A write-only file that passes every write through to `fh` and hashes the same bytes in order on
    `pool` (one thread), so the manifest's sizes and sha256 come from the save itself: no file is read
    back, and the hash runs alongside the serialisation and then the fsync or upload.

    The hash may read a chunk after write() has returned only if the chunk lies in `owned`: (start, end)
    address ranges of memory the caller keeps unchanged until result() returns (the CPU tensors of a
    snapshot, or of a training that has stopped). Every other chunk is copied before write() returns:
    torch.save writes a CUDA tensor from a temporary CPU copy that it frees (or reuses) as soon as write()
    returns, and its pickle and zip buffers are its own."""

    SMALL = 1 << 16  # chunks below this (zip headers, small tensors) are copied into a batch, hashed per MiB
    BATCH = 1 << 20

    def __init__(self, fh: BinaryIO, pool: Executor, owned: Iterable[tuple[int, int]] = ()):
        self.fh, self.pool, self.size = fh, pool, 0
        self.owned = sorted(owned)
        self.sha = hashlib.sha256()
        self.batch = bytearray()
        self.hashed: Future | None = None

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        self.fh.write(view)
        if view.nbytes < self.SMALL or not self._is_owned(view):
            self.batch += view  # a copy
            if len(self.batch) >= self.BATCH:
                self._hash_batch()
        else:
            self._hash_batch()
            self.hashed = self.pool.submit(self.sha.update, view)  # one worker: chunks are hashed in order
        self.size += view.nbytes
        return view.nbytes

    def flush(self) -> None:
        self.fh.flush()

    def result(self) -> FileEntry:
        """Size and sha256 of everything written, once the hash has caught up."""
        self._hash_batch()
        if self.hashed is not None:
            self.hashed.result()
        return FileEntry(self.size, self.sha.hexdigest())

    def _hash_batch(self) -> None:
        if self.batch:
            self.hashed = self.pool.submit(self.sha.update, self.batch)
            self.batch = bytearray()

    def _is_owned(self, view: memoryview) -> bool:
        if not self.owned or view.nbytes == 0:
            return False
        import numpy as np  # only for owned memory, that is in the trainer, which has it loaded already

        start = np.frombuffer(view, dtype=np.uint8).ctypes.data
        index = bisect.bisect_right(self.owned, (start, float("inf"))) - 1
        return index >= 0 and self.owned[index][0] <= start and start + view.nbytes <= self.owned[index][1]


def hash_file(path: Path) -> FileEntry:
    """Size and sha256 of a file as it is on disk, read in chunks (the final model's files, which
    Hugging Face writes itself)."""
    with open(path, "rb") as fh:
        sha = hashlib.file_digest(fh, "sha256")  # releases the GIL while it hashes
    return FileEntry(path.stat().st_size, sha.hexdigest())


def step_dir(step: int) -> str:
    """Zero-padded so names sort by step."""
    return f"step-{step:010d}"


def step_of(name: str) -> int | None:
    match = STEP_DIR.match(name)
    return int(match.group(1)) if match else None
