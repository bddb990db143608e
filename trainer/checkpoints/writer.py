"""Writing and committing checkpoints off the training thread.

Each rank writes its files and a part record (its files' sizes and hashes); rank 0 waits for every part,
then commits the manifest last. No collective runs here, so training goes on while files are written.
"""

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .catalog import prune
from .manifest import MANIFEST, FileEntry, Manifest, digest, step_dir
from .store import Store

PART = "part-rank-{rank}.json"


@dataclass
class Job:
    step: int
    epoch: int
    files: dict[str, bytes]
    started: float
    done: threading.Event = field(default_factory=threading.Event)


class CheckpointWriter:
    def __init__(self, store: Store, rank: int, world_size: int, keep_last: int, log: Callable[[str], None],
                 peer_timeout: float = 600.0):
        self.store, self.rank, self.world_size, self.keep_last = store, rank, world_size, keep_last
        self.log, self.peer_timeout = log, peer_timeout
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.last_committed: int | None = None
        self.last_seconds: float = 0.0
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._loop, name="checkpoint-writer", daemon=True)
        self.thread.start()

    def submit(self, step: int, epoch: int, files: dict[str, bytes], started: float) -> Job:
        job = Job(step, epoch, files, started)
        self.jobs.put(job)
        return job

    def flush(self) -> None:
        """Block until everything submitted is written (and, on rank 0, committed)."""
        done = threading.Event()
        self.jobs.put(Job(-1, -1, {}, 0.0, done))
        done.wait()
        if self.error:
            raise self.error

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job.step >= 0 and self.error is None:
                try:
                    self._write(job)
                except Exception as exc:  # reported on the next flush(), from the training thread
                    self.error = exc
            job.done.set()

    def _write(self, job: Job) -> None:
        folder = step_dir(job.step)
        part = {}
        for name, data in job.files.items():
            self.store.write(folder, name, data)
            entry = digest(data)
            part[name] = {"size": entry.size, "sha256": entry.sha256}
        self.store.write(folder, PART.format(rank=self.rank), json.dumps(part).encode())
        if self.rank == 0:
            self._commit(job, folder)

    def _commit(self, job: Job, folder: str) -> None:
        files = self._gather_parts(folder)
        seconds = time.monotonic() - job.started
        manifest = Manifest(step=job.step, epoch=job.epoch, created=time.time(), world_size=self.world_size,
                            files=files, save_seconds=round(seconds, 3))
        self.store.commit(folder, MANIFEST, manifest.to_json())
        self.last_committed, self.last_seconds = job.step, seconds
        for old in prune(self.store, self.keep_last):
            self.log(f"pruned {self.store.location(old)} (keeping the last {self.keep_last})")

    def _gather_parts(self, folder: str) -> dict[str, FileEntry]:
        deadline = time.monotonic() + self.peer_timeout
        files: dict[str, FileEntry] = {}
        for rank in range(self.world_size):
            while (raw := self.store.read(folder, PART.format(rank=rank))) is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rank {rank} never finished writing {self.store.location(folder)}")
                time.sleep(0.05)
            files |= {name: FileEntry(**entry) for name, entry in json.loads(raw).items()}
        return files
