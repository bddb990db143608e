"""Writing and committing checkpoints off the training thread.

The training thread hands over what to write (a snapshot of the state, see snapshot.py, or the state of a
training that has stopped) and goes on. This rank's writer thread then, for one save at a time: serialises
each file into staging and hashes it on the way (manifest.HashingFile: no file is read back), makes the
files durable (fsync, or upload), and commits a part record: its files' sizes and hashes, tagged with the
attempt that wrote them. Rank 0 waits for every part of this attempt, then commits the manifest last, then
prunes. No collective runs here, so training goes on while files are written.
"""

import json
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from .catalog import prune
from .manifest import MANIFEST, FileEntry, HashingFile, Manifest, step_dir
from .store import Store

PART = "part-rank-{rank}.json"

# Writes one file's bytes (state.TorchFile, or any callable); an `owned` attribute lists the memory ranges
# the hash may read after write() returns (manifest.HashingFile).
Serialiser = Callable[[BinaryIO], None]


@dataclass
class Job:
    step: int
    epoch: int
    files: dict[str, Serialiser]  # run on the writer thread, then dropped (they hold the snapshot)
    started: float  # time.monotonic() when the save began (its snapshot included)
    done: threading.Event = field(default_factory=threading.Event)


class CheckpointWriter:
    """One per rank. `attempt` tags part records, so rank 0 never counts a part left in the same step
    folder by an earlier attempt (set it to a token every rank of this attempt agrees on)."""

    def __init__(self, store: Store, rank: int, world_size: int, keep_last: int, log: Callable[[str], None],
                 peer_timeout: float = 600.0, attempt: str = ""):
        self.store, self.rank, self.world_size, self.keep_last = store, rank, world_size, keep_last
        self.log, self.peer_timeout, self.attempt = log, peer_timeout, attempt
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.pending: list[Job] = []
        self.last_committed: int | None = None  # rank 0: the newest step it committed
        self.last_written: int | None = None  # any rank: the newest step whose files it made durable
        self.last_seconds: float = 0.0  # rank 0: the last save, from its start to its manifest committed
        self.error: Exception | None = None
        self.hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint-hash")
        self.thread = threading.Thread(target=self._loop, name="checkpoint-writer", daemon=True)
        self.thread.start()

    def submit(self, step: int, epoch: int, files: dict[str, Serialiser], started: float) -> Job:
        """Serialise, hash, publish (fsync or upload) and commit `files` in the background, in the order
        submitted. The serialisers run after this returns: what they write must not change until the job
        is done (flush() returns)."""
        job = Job(step, epoch, dict(files), started)
        self.pending.append(job)
        self.jobs.put(job)
        return job

    @property
    def busy(self) -> bool:
        """A submitted save is not written (and, on rank 0, committed) yet."""
        return any(not job.done.is_set() for job in self.pending)

    def flush(self) -> None:
        """Block until everything submitted is written (and, on rank 0, committed); pruning is not waited for.

        Raises the error of a failed background save."""
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
            job.files = {}  # the snapshot can go
            if self.error is None:
                self.last_written = job.step
            job.done.set()  # durable now; pruning old checkpoints is nobody's wait
            if committed:
                self._prune(job.step)
            self.jobs.task_done()

    def _write(self, job: Job) -> bool:
        folder = step_dir(job.step)
        hashing = {name: self._stage(folder, name, serialise) for name, serialise in job.files.items()}
        for name in hashing:
            self.store.publish(folder, name)  # while the hash catches up
        files = {name: entry.result() for name, entry in hashing.items()}
        for name in files:
            self.store.unstage(folder, name)
        if self.rank != 0:  # rank 0 keeps its own part in memory
            part = {"attempt": self.attempt, "files": {n: {"size": e.size, "sha256": e.sha256} for n, e in files.items()}}
            self.store.commit(folder, PART.format(rank=self.rank), json.dumps(part).encode())
            return False
        self._commit(job, folder, files)
        return True

    def _stage(self, folder: str, name: str, serialise: Serialiser) -> HashingFile:
        """Serialise one file into staging, hashed on the way (the hash may still be running)."""
        with self.store.open_write(folder, name) as fh:
            hashing = HashingFile(fh, self.hasher, owned=getattr(serialise, "owned", ()))
            serialise(hashing)
        return hashing

    def _commit(self, job: Job, folder: str, files: dict[str, FileEntry]) -> None:
        files = files | self._gather_parts(folder)
        seconds = time.monotonic() - job.started
        manifest = Manifest(step=job.step, epoch=job.epoch, created=time.time(), world_size=self.world_size,
                            files=files, save_seconds=round(seconds, 3))
        self.store.commit(folder, MANIFEST, manifest.to_json())
        self.last_committed, self.last_seconds = job.step, seconds

    def _prune(self, committed: int) -> None:
        try:
            for old in prune(self.store, self.keep_last, newest_verified=committed):
                self.log(f"pruned {self.store.location(old)} (keeping the last {self.keep_last})")
        except Exception as exc:  # a failed prune leaves extra checkpoints, never fewer
            self.log(f"warning: pruning old checkpoints failed: {exc}")

    def _gather_parts(self, folder: str) -> dict[str, FileEntry]:
        deadline = time.monotonic() + self.peer_timeout
        files: dict[str, FileEntry] = {}
        for rank in range(1, self.world_size):
            while (part := self._read_part(folder, rank)) is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"rank {rank} never finished writing {self.store.location(folder)}")
                time.sleep(0.05)
            files |= {name: FileEntry(**entry) for name, entry in part["files"].items()}
        return files

    def _read_part(self, folder: str, rank: int) -> dict | None:
        """This attempt's part record of `rank`, or None while it is not there (a part left by an earlier
        attempt in the same step folder does not count). Parts are committed atomically: whole or absent."""
        raw = self.store.read(folder, PART.format(rank=rank))
        part = json.loads(raw) if raw else None
        return part if part and part.get("attempt") == self.attempt else None
