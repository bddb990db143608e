"""Writing and committing checkpoints off the training thread.

Each rank writes its files and a part record (its files' sizes and hashes); rank 0 waits for every part,
then commits the manifest last. No collective runs here, so training goes on while files are written.
"""

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from .catalog import prune
from .manifest import MANIFEST, FileEntry, HashingFile, Manifest, step_dir
from .store import Store

PART = "part-rank-{rank}.json"


@dataclass
class Job:
    step: int
    epoch: int
    files: dict[str, FileEntry | HashingFile]  # already staged (CheckpointWriter.stage)
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
        self.thread = threading.Thread(target=self._loop, name="checkpoint-writer", daemon=True)
        self.thread.start()

    def stage(self, step: int, name: str, write: Callable[[BinaryIO], None], last: bool = False
              ) -> FileEntry | HashingFile:
        """Stream one file to staging through `write(fh)`, hashed on the way, on the caller's thread.

        The hash reads the caller's tensors in place, so it must finish before they change: normally before
        this returns. For the `last` save before exit (nothing changes any more) it is left running, to
        overlap with the fsync or upload."""
        with self.store.open_write(step_dir(step), name) as fh:
            hashing = HashingFile(fh)
            try:
                write(hashing)
            finally:
                hashing.close()
        return hashing if last else hashing.result()

    def submit(self, step: int, epoch: int, files: dict[str, FileEntry], started: float) -> Job:
        """Publish (fsync or upload) the staged files and commit, in the background."""
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
        for name in job.files:
            self.store.publish(folder, name)
        job.files = {name: e.result() if isinstance(e, HashingFile) else e for name, e in job.files.items()}
        for name in job.files:
            self.store.unstage(folder, name)
        if self.rank != 0:  # rank 0 keeps its own part in memory
            part = {name: {"size": e.size, "sha256": e.sha256} for name, e in job.files.items()}
            self.store.write(folder, PART.format(rank=self.rank), json.dumps(part).encode())
            return False
        self._commit(job, folder)
        return True

    def _commit(self, job: Job, folder: str) -> None:
        files = job.files | self._gather_parts(folder)
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
