"""Where a run's checkpoints live: a folder (a PVC mount) or an S3 prefix, behind one small interface."""

import ctypes
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Protocol

from .manifest import MANIFEST


class StoreError(Exception):
    """The checkpoint store cannot be used. `permanent`: a configuration problem that retrying cannot fix."""

    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class Store(Protocol):
    """A run's checkpoint area: step folders of files, plus a few files at its root (folder "")."""

    def location(self, folder: str = "") -> str: ...
    def check(self) -> None: ...
    def reclaim_uploads(self) -> int: ...
    def folders(self) -> list[str]: ...
    def write(self, folder: str, name: str, data: bytes) -> None: ...
    def read(self, folder: str, name: str) -> bytes | None: ...
    def size(self, folder: str, name: str) -> int | None: ...
    def commit(self, folder: str, name: str, data: bytes) -> None: ...
    def delete(self, folder: str) -> None: ...
    def upload_tree(self, local: Path, folder: str) -> None: ...
    def download_tree(self, folder: str, local: Path) -> None: ...
    # Large files go in two moves: stream them in with open_write() (to the folder, written back as they
    # go; to S3, uploaded part by part as they go), then publish() makes them durable (fsync; the last parts
    # and the upload's completion), then unstage() drops what staging kept.
    def open_write(self, folder: str, name: str) -> "contextmanager[BinaryIO]": ...
    def publish(self, folder: str, name: str) -> None: ...
    def unstage(self, folder: str, name: str) -> None: ...


class LocalStore:
    """A folder on a filesystem; durable means fsynced, atomic means written aside and renamed."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def location(self, folder: str = "") -> str:
        return str(self.root / folder)

    def check(self) -> None:
        """A folder needs no check: it is created on the first write."""

    def reclaim_uploads(self) -> int:
        """Files are written in place: no upload can be left half-done."""
        return 0

    def folders(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []

    def write(self, folder: str, name: str, data: bytes) -> None:
        path = self.root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def read(self, folder: str, name: str) -> bytes | None:
        path = self.root / folder / name
        return path.read_bytes() if path.is_file() else None

    def size(self, folder: str, name: str) -> int | None:
        path = self.root / folder / name
        return path.stat().st_size if path.is_file() else None

    def open_write(self, folder: str, name: str) -> "contextmanager[BinaryIO]":
        """Straight into the step folder (a file there without a manifest is ignored as torn), written
        back to disk as it goes, so that publish()'s fsync finds little left to write."""
        return open_staging(self.staged(folder, name), write_behind=True)

    def staged(self, folder: str, name: str) -> Path:
        return self.root / folder / name

    def publish(self, folder: str, name: str) -> None:
        fd = os.open(self.staged(folder, name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def unstage(self, folder: str, name: str) -> None:
        """The staged file is the checkpoint file itself: nothing to remove."""

    def commit(self, folder: str, name: str, data: bytes) -> None:
        """Temp file, fsync, rename, fsync the folder: the name appears whole or not at all."""
        directory = self.root / folder
        tmp = directory / f".{name}.tmp"
        self.write(folder, tmp.name, data)
        os.replace(tmp, directory / name)
        _fsync_dir(directory)

    def delete(self, folder: str) -> None:
        """The manifest first (the checkpoint stops existing at once), then the rest: a delete cut off
        half-way leaves a torn folder, never a checkpoint with missing files."""
        directory = self.root / folder
        (directory / MANIFEST).unlink(missing_ok=True)
        if directory.is_dir():
            _fsync_dir(directory)
        shutil.rmtree(directory, ignore_errors=True)

    def upload_tree(self, local: Path, folder: str) -> None:
        if Path(local).resolve() != (self.root / folder).resolve():
            shutil.copytree(local, self.root / folder, dirs_exist_ok=True)

    def download_tree(self, folder: str, local: Path) -> None:
        source = self.root / folder
        if source.is_dir() and source.resolve() != Path(local).resolve():
            shutil.copytree(source, local, dirs_exist_ok=True)


def _fsync_dir(directory: Path) -> None:
    """Make a rename or an unlink in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def open_staging(path: Path, write_behind: bool = False) -> Iterator[BinaryIO]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        yield WriteBehind(fh) if write_behind and _sync_file_range else fh


class WriteBehind:
    """A file that asks the kernel to start writing its data to disk every WINDOW bytes, without waiting
    for it (Linux sync_file_range with SYNC_FILE_RANGE_WRITE; RocksDB's bytes_per_sync does the same), so
    the data goes to disk while the rest is serialised and the closing fsync has little left to do."""

    WINDOW = 16 << 20

    def __init__(self, fh: BinaryIO):
        self.fh, self.written, self.submitted = fh, 0, 0

    def write(self, data) -> int:
        written = self.fh.write(data)
        self.written += written
        if self.written - self.submitted >= self.WINDOW:
            self.fh.flush()
            _sync_file_range(self.fh.fileno(), self.submitted, self.written - self.submitted, _SYNC_FILE_RANGE_WRITE)
            self.submitted = self.written
        return written

    def flush(self) -> None:
        self.fh.flush()


_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start write-out of the range's dirty pages; do not wait


def _libc_sync_file_range():
    """libc's sync_file_range (Linux), or None where there is none: files are then written back by fsync."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return call


_sync_file_range = _libc_sync_file_range()

