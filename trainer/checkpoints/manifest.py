"""The commit record of a checkpoint. A checkpoint without a valid manifest does not exist."""

import hashlib
import json
import re
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

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
    """A write-only file that passes every write through to `fh` and hashes exactly those bytes, so the
    manifest's sizes and sha256 come from the save itself and no file is read back.

    Every byte is hashed before write() returns: torch.save writes a CUDA tensor from a temporary CPU copy
    and frees (or reuses) it as soon as write() returns, and its pickle and zip buffers are its own. Large
    chunks are hashed on `pool` (one thread) while this thread writes them; both release the GIL, so a
    chunk costs the slower of the two, not their sum."""

    PARALLEL_FROM = 1 << 20  # below this, a thread hand-off costs more than it saves

    def __init__(self, fh: BinaryIO, pool: Executor):
        self.fh, self.pool, self.size = fh, pool, 0
        self.sha = hashlib.sha256()

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        if view.nbytes < self.PARALLEL_FROM:
            self.sha.update(view)
            self.fh.write(view)
        else:
            hashed = self.pool.submit(self.sha.update, view)
            try:
                self.fh.write(view)
            finally:
                hashed.result()  # even if the write failed: the buffer is the caller's again after this
        self.size += view.nbytes
        return view.nbytes

    def flush(self) -> None:
        self.fh.flush()

    def result(self) -> FileEntry:
        """Size and sha256 of everything written so far."""
        return FileEntry(self.size, self.sha.hexdigest())


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
