"""Writing and committing checkpoints off the training thread.

Each rank writes its files and a part record (its files' sizes and hashes); rank 0 waits for every part,
then commits the manifest last. No collective runs here, so training goes on while files are written.
"""

import json
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .catalog import prune
from .manifest import MANIFEST, FileEntry, Manifest, file_digest, step_dir
from .store import Store

PART = "part-rank-{rank}.json"


@dataclass
class Job:
    step: int
    epoch: int
    files: list[str]  # already staged with store.open_write
    started: float
    done: threading.Event = field(default_factory=threading.Event)


class CheckpointWriter:
    def __init__(self, store: Store, rank: int, world_size: int, keep_last: int, log: Callable[[str], None],
                 peer_timeout: float = 600.0):
        self.store, self.rank, self.world_size, self.keep_last = store, rank, world_size, keep_last
        self.log, self.peer_timeout = log, peer_timeout
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.pending: list[Job] = []
        self.last_committed: int | None = None
        self.last_seconds: float = 0.0
        self.error: Exception | None = None
        self.hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-hash")
        self.thread = threading.Thread(target=self._loop, name="checkpoint-writer", daemon=True)
        self.thread.start()

    def stage(self, step: int, name: str, data: bytes) -> None:
        """Stage bytes already in memory (small files, tests)."""
        with self.store.open_write(step_dir(step), name) as fh:
            fh.write(data)

    def submit(self, step: int, epoch: int, files: list[str], started: float) -> Job:
        job = Job(step, epoch, files, started)
        self.pending.append(job)
        self.jobs.put(job)
        return job

    def flush(self) -> None:
        """Block until everything submitted is written (and, on rank 0, committed); pruning is not waited for."""
        for job in self.pending:
            job.done.wait()
        self.pending.clear()
        if self.error:
            raise self.error

    def drain(self) -> None:
        """Block until the writer is idle, pruning included."""
        self.jobs.join()
        self.flush()

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            committed = False
            if self.error is None:
                try:
                    committed = self._write(job)
                except Exception as exc:  # reported on the next flush(), from the training thread
                    self.error = exc
            job.done.set()  # durable now; pruning old checkpoints is nobody's wait
            if committed:
                self._prune()
            self.jobs.task_done()

    def _write(self, job: Job) -> bool:
        folder = step_dir(job.step)
        part = {}
        for name in job.files:
            # Hash the staged file while it is fsynced or uploaded: sha256 releases the GIL.
            hashed = self.hasher.submit(file_digest, self.store.staged(folder, name))
            self.store.publish(folder, name)
            entry = hashed.result()
            self.store.unstage(folder, name)
            part[name] = {"size": entry.size, "sha256": entry.sha256}
        if self.rank != 0:  # rank 0 keeps its own part in memory
            self.store.write(folder, PART.format(rank=self.rank), json.dumps(part).encode())
            return False
        self._commit(job, folder, part)
        return True

    def _commit(self, job: Job, folder: str, own: dict) -> None:
        files = {name: FileEntry(**entry) for name, entry in own.items()} | self._gather_parts(folder)
        seconds = time.monotonic() - job.started
        manifest = Manifest(step=job.step, epoch=job.epoch, created=time.time(), world_size=self.world_size,
                            files=files, save_seconds=round(seconds, 3))
        self.store.commit(folder, MANIFEST, manifest.to_json())
        self.last_committed, self.last_seconds = job.step, seconds

    def _prune(self) -> None:
        try:
            for old in prune(self.store, self.keep_last):
                self.log(f"pruned {self.store.location(old)} (keeping the last {self.keep_last})")
        except Exception as exc:  # a failed prune leaves extra checkpoints, never fewer
            self.log(f"warning: pruning old checkpoints failed: {exc}")

    def _gather_parts(self, folder: str) -> dict[str, FileEntry]:
        deadline = time.monotonic() + self.peer_timeout
        files: dict[str, FileEntry] = {}
        for rank in range(1, self.world_size):
            while (raw := self.store.read(folder, PART.format(rank=rank))) is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rank {rank} never finished writing {self.store.location(folder)}")
                time.sleep(0.05)
            files |= {name: FileEntry(**entry) for name, entry in json.loads(raw).items()}
        return files
