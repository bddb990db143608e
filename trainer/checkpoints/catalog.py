"""Which checkpoints exist, which are whole, which to resume from and which to prune."""

import json
from dataclasses import dataclass
from typing import Callable

from .manifest import MANIFEST, Manifest, digest, step_of
from .store import Store


@dataclass(frozen=True)
class Entry:
    """One step folder as found in the store."""

    folder: str
    step: int
    valid: bool
    reason: str = ""
    manifest: Manifest | None = None


def inspect(store: Store, folder: str, verify_hashes: bool, keep: frozenset[str] = frozenset()
            ) -> tuple[Entry, dict[str, bytes]]:
    """Check one step folder; with verify_hashes every file is read and hashed. Returns the bytes of `keep`."""
    step = step_of(folder)
    raw = store.read(folder, MANIFEST)
    if raw is None:
        return Entry(folder, step, False, "no manifest (the save never committed)"), {}
    try:
        manifest = Manifest.from_json(raw)
    except (ValueError, TypeError, KeyError) as exc:
        return Entry(folder, step, False, f"unreadable manifest ({exc})"), {}
    kept: dict[str, bytes] = {}
    for name, expected in sorted(manifest.files.items()):
        problem, data = _check_file(store, folder, name, expected, verify_hashes)
        if problem:
            return Entry(folder, step, False, problem, manifest), {}
        if name in keep:
            kept[name] = data
    return Entry(folder, step, True, "", manifest), kept


def _check_file(store: Store, folder: str, name: str, expected, verify_hashes: bool) -> tuple[str, bytes | None]:
    if not verify_hashes:
        size = store.size(folder, name)
        if size is None:
            return f"{name} is missing", None
        return (f"{name} has {size} bytes, the manifest says {expected.size}" if size != expected.size else ""), None
    data = store.read(folder, name)
    if data is None:
        return f"{name} is missing", None
    actual = digest(data)
    if actual.size != expected.size:
        return f"{name} has {actual.size} bytes, the manifest says {expected.size}", None
    if actual.sha256 != expected.sha256:
        return f"{name} does not match its sha256", None
    return "", data


def entries(store: Store, verify_hashes: bool = False) -> list[Entry]:
    """Every step folder, newest first."""
    folders = [f for f in store.folders() if step_of(f) is not None]
    return [inspect(store, f, verify_hashes)[0] for f in sorted(folders, reverse=True)]


def latest_valid(store: Store, keep: frozenset[str], log: Callable[[str], None]
                 ) -> tuple[Manifest, dict[str, bytes]] | None:
    """The newest checkpoint whose files all match the manifest; torn ones are reported and skipped."""
    for folder in sorted((f for f in store.folders() if step_of(f) is not None), reverse=True):
        entry, kept = inspect(store, folder, verify_hashes=True, keep=keep)
        if entry.valid:
            return entry.manifest, kept
        log(f"checkpoint {store.location(folder)} is torn: {entry.reason}; falling back to the one before")
    return None


def prune(store: Store, keep_last: int, newest_verified: int) -> list[str]:
    """Delete what the checkpoint `newest_verified` (just committed, its hashes computed by its writer) makes
    unnecessary: committed checkpoints older than it beyond the newest `keep_last` (itself counted), and
    torn folders older than it (left by saves or prunes cut off by a kill). Returns the deleted folders.

    Nothing is deleted unless that newer verified checkpoint remains, whatever sizes say of the others, and
    folders newer than it are left alone: another rank may be writing one. Each delete removes the manifest
    first, so a prune cut off half-way leaves a torn folder, which the next prune reclaims."""
    older = [e for e in entries(store) if e.step < newest_verified]
    kept = [e.folder for e in older if e.valid][:max(0, keep_last - 1)]
    doomed = [e.folder for e in older if e.folder not in kept]
    for folder in doomed:
        store.delete(folder)
    return doomed


def reclaim_newer_than(store: Store, step: int | None) -> list[str]:
    """At start-up, before any rank writes: delete the step folders newer than the resume point. Every one
    of them failed verification (resume takes the newest that verifies), and this attempt will write those
    steps again. `step` None: there is no valid checkpoint at all."""
    doomed = [f for f in store.folders() if (s := step_of(f)) is not None and (step is None or s > step)]
    for folder in doomed:
        store.delete(folder)
    return doomed


def read_json(store: Store, name: str, default: dict) -> dict:
    raw = store.read("", name)
    return json.loads(raw) if raw else dict(default)
