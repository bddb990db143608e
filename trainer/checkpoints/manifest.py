"""The commit record of a checkpoint. A checkpoint without a valid manifest does not exist."""

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

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


def hash_file(path: Path) -> FileEntry:
    """Size and sha256 of a file as it is on disk (or in the page cache), read in 4 MiB chunks.

    Checkpoints are hashed from their staged file, never from the writer's buffers: torch.save writes CUDA
    tensors from a temporary CPU copy that it frees as soon as write() returns, so a hash that read those
    buffers later would read freed memory. Reading the file back costs one pass over the page cache, off
    the training thread."""
    with open(path, "rb") as fh:
        sha = hashlib.file_digest(fh, "sha256")  # releases the GIL while it hashes
    return FileEntry(path.stat().st_size, sha.hexdigest())


def step_dir(step: int) -> str:
    """Zero-padded so names sort by step."""
    return f"step-{step:010d}"


def step_of(name: str) -> int | None:
    match = STEP_DIR.match(name)
    return int(match.group(1)) if match else None
