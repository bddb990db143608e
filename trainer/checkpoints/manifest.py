"""The commit record of a checkpoint. A checkpoint without a valid manifest does not exist."""

import hashlib
import json
import queue
import re
import threading
from dataclasses import asdict, dataclass, field

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
    """Writes through to a file and hashes the same bytes in a helper thread, overlapping the two.

    Large chunks are hashed in place, without a copy: the writer (torch.save) hands over views of tensor
    storage and of its own pickle buffer, which must stay untouched until result() returns. Small chunks
    (zip headers) come from reused buffers, so they are copied.
    """

    COPY_BELOW = 1 << 16

    def __init__(self, fh):
        self.fh, self.size = fh, 0
        self.sha = hashlib.sha256()
        self.chunks: queue.Queue = queue.Queue()  # unbounded: large chunks are views, not copies
        self.thread = threading.Thread(target=self._hash, name="checkpoint-hash", daemon=True)
        self.thread.start()

    def write(self, data) -> int:
        written = self.fh.write(data)
        view = memoryview(data).cast("B")
        self.size += view.nbytes
        self.chunks.put(bytes(view) if view.nbytes < self.COPY_BELOW else view)
        return written

    def flush(self) -> None:
        self.fh.flush()

    def _hash(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            self.sha.update(chunk)  # releases the GIL on large buffers

    def close(self) -> None:
        """No more writes; the hash may still be running."""
        self.chunks.put(None)

    def result(self) -> FileEntry:
        self.thread.join()
        return FileEntry(self.size, self.sha.hexdigest())


def step_dir(step: int) -> str:
    """Zero-padded so names sort by step."""
    return f"step-{step:010d}"


def step_of(name: str) -> int | None:
    match = STEP_DIR.match(name)
    return int(match.group(1)) if match else None
