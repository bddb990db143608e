"""The commit, prune and resume protocol under crashes placed at random between any two filesystem writes
of any rank (tests/checkpoint_crash.py kills a rank right after its Nth write).

Every time: resume takes a checkpoint that verifies (or starts fresh when none was ever committed), no
committed checkpoint is lost unless a newer verified one exists, and the next successful attempt leaves
no folder behind but the checkpoints retention keeps."""

import random
import subprocess
import sys

import pytest

from tests.factory import ROOT
from trainer.checkpoints.catalog import entries, latest_valid
from trainer.checkpoints.store import LocalStore

KEEP_LAST, STEPS, WORLD = 2, 3, 2


def attempt(root, first: int, crash_rank: int | None, crash_at: int, token: str) -> list[int]:
    """Run both ranks of one attempt; returns the steps rank 0 reported committed."""
    (root / ".rank0-ready").unlink(missing_ok=True)
    procs = [subprocess.Popen([sys.executable, "-m", "tests.checkpoint_crash", str(root), str(rank), str(WORLD),
                               str(first), str(STEPS), str(KEEP_LAST), str(crash_at if rank == crash_rank else 0),
                               token], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in range(WORLD)]
    out = [p.communicate(timeout=60)[0] for p in procs]
    return [int(line.split()[1]) for line in out[0].splitlines() if line.startswith("committed ")]


def resume_step(store) -> int:
    found = latest_valid(store, keep=frozenset(), log=lambda _: None)
    return found[0].step if found else 0


@pytest.mark.parametrize("seed", range(8))
def test_random_crashes_never_lose_the_newest_committed_checkpoint_nor_leak_folders(tmp_path, seed):
    rng = random.Random(seed)
    store = LocalStore(tmp_path)
    newest_committed = 0
    for number in range(3):
        crash_rank, crash_at = rng.randrange(WORLD), rng.randint(1, 45)
        start = resume_step(store)
        committed = attempt(tmp_path, start + 1, crash_rank, crash_at, token=f"{seed}-{number}")
        newest_committed = max([newest_committed, *committed])
        # What the next attempt resumes from verifies, and is at least the newest checkpoint ever committed.
        assert resume_step(store) >= newest_committed, (crash_rank, crash_at, store.folders())
    start = resume_step(store)
    assert attempt(tmp_path, start + 1, None, 0, token=f"{seed}-clean") == [start + 1, start + 2, start + 3]
    kept = entries(store, verify_hashes=True)
    assert [(e.step, e.valid) for e in kept] == [(start + 3, True), (start + 2, True)]
    assert store.folders() == sorted(e.folder for e in kept)  # nothing leaked, torn or otherwise
