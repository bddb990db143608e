"""The commit, prune and resume protocol under crashes (tests/checkpoint_crash.py kills a rank right after
one of its filesystem writes), with saves written in the background while training changes the state.

Every time: resume takes a checkpoint that verifies (or starts fresh when none was ever committed), every
checkpoint that verifies holds exactly the state of its step, no committed checkpoint is lost unless a newer
verified one exists, and the next successful attempt leaves no folder behind but the checkpoints retention
keeps."""

import random
import subprocess
import sys

import pytest

from tests.checkpoint_crash import as_written, payload
from tests.factory import ROOT
from trainer.checkpoints.catalog import entries, latest_valid
from trainer.checkpoints.store import LocalStore

KEEP_LAST, STEPS, WORLD = 2, 3, 2


def attempt(root, first: int, crash_rank: int | None, crash: str, token: str, tensors: bool = False) -> list[int]:
    """Run both ranks of one attempt; returns the steps rank 0 reported committed."""
    committed, codes, errors = run_ranks(root, first, crash_rank, crash, token, tensors)
    if crash_rank is None:
        assert codes == [0] * WORLD, errors
    return committed


def run_ranks(root, first: int, crash_rank: int | None, crash: str, token: str, tensors: bool
              ) -> tuple[list[int], list[int], list[str]]:
    """Both ranks of one attempt: the steps rank 0 reported committed, exit codes, ends of stderr."""
    (root / ".rank0-ready").unlink(missing_ok=True)
    mode = ["tensors"] if tensors else []
    procs = [subprocess.Popen([sys.executable, "-m", "tests.checkpoint_crash", str(root), str(rank), str(WORLD),
                               str(first), str(STEPS), str(KEEP_LAST), crash if rank == crash_rank else "0",
                               token, *mode], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in range(WORLD)]
    out = [p.communicate(timeout=120) for p in procs]
    committed = [int(line.split()[1]) for line in out[0][0].splitlines() if line.startswith("committed ")]
    return committed, [p.returncode for p in procs], [err[-2000:] for _, err in out]


def resume_step(store) -> int:
    found = latest_valid(store, keep=frozenset(), log=lambda _: None)
    return found[0].step if found else 0


def assert_every_verified_checkpoint_holds_its_step(store, tensors: bool) -> None:
    """A checkpoint that verifies but holds the state of another step (the live state, changed by training
    after the save began) would resume silently wrong."""
    for entry in entries(store, verify_hashes=True):
        if not entry.valid:
            continue
        expected = {name: data for rank in range(WORLD) for name, data in payload(rank, entry.step).items()}
        assert sorted(entry.manifest.files) == sorted(expected), entry
        for name, data in expected.items():
            written = store.read(entry.folder, name)
            if tensors:
                from trainer.checkpoints.state import from_bytes
                assert from_bytes(written).equal(as_written(data, True)), (entry.step, name)
            else:
                assert written == data, (entry.step, name)


def crash_then_resume(root, crash_rank: int | None, crash: str, token: str, tensors: bool = False) -> None:
    """One attempt that may crash, then the checks on what it left; returns nothing, asserts."""
    store = LocalStore(root)
    before = resume_step(store)
    committed = attempt(root, before + 1, crash_rank, crash, token, tensors)
    assert_every_verified_checkpoint_holds_its_step(store, tensors)
    # What the next attempt resumes from verifies, and is at least the newest checkpoint ever committed.
    assert resume_step(store) >= max([before, *committed]), (crash_rank, crash, store.folders())


def finish_cleanly(root, token: str, tensors: bool = False) -> None:
    store = LocalStore(root)
    start = resume_step(store)
    assert attempt(root, start + 1, None, "0", token, tensors) == [start + 1, start + 2, start + 3]
    kept = entries(store, verify_hashes=True)
    assert [(e.step, e.valid) for e in kept] == [(start + 3, True), (start + 2, True)]
    assert store.folders() == sorted(e.folder for e in kept)  # nothing leaked, torn or otherwise
    assert_every_verified_checkpoint_holds_its_step(store, tensors)


@pytest.mark.parametrize("seed", range(8))
def test_random_crashes_never_lose_the_newest_committed_checkpoint_nor_leak_folders(tmp_path, seed):
    rng = random.Random(seed)
    for number in range(3):
        crash_rank, crash_at = rng.randrange(WORLD), rng.randint(1, 45)
        crash_then_resume(tmp_path, crash_rank, str(crash_at), token=f"{seed}-{number}")
    finish_cleanly(tmp_path, token=f"{seed}-clean")


# Each phase of the second save of an attempt (the first is committed; training has moved on from the
# state the second one snapshotted): rank, the write the rank dies right after.
PHASES = {
    "rank-0-serialising": (0, "open:trainer.pt@2"),
    "rank-0-file-durable": (0, "fsync:trainer.pt@2"),
    "rank-1-serialising": (1, "open:rank-1.pt@2"),
    "rank-1-file-durable": (1, "fsync:rank-1.pt@2"),
    "rank-1-part-committed": (1, "replace:part-rank-1.json@2"),
    "manifest-written-not-renamed": (0, "fsync:.manifest.json.tmp@2"),
    "manifest-renamed": (0, "replace:manifest.json@2"),
    "pruning": (0, "unlink:manifest.json@1"),
}


@pytest.mark.parametrize("phase", PHASES, ids=list(PHASES))
def test_a_kill_in_any_phase_of_a_background_save_never_leaves_a_wrong_checkpoint(tmp_path, phase):
    """Real tensors, snapshotted and written with torch.save by the writer thread while the live tensors
    change; the kill lands in the named phase of a save in flight."""
    crash_rank, crash = PHASES[phase]
    crash_then_resume(tmp_path, crash_rank, crash, token="crash", tensors=True)
    finish_cleanly(tmp_path, token="clean", tensors=True)


def test_the_phases_are_reached(tmp_path):
    """Each crash point above names a write a clean attempt makes (a renamed file would turn its test into
    a clean run): the rank dies of it."""
    for phase, (crash_rank, crash) in PHASES.items():
        root = tmp_path / phase
        root.mkdir()
        _, codes, errors = run_ranks(root, 1, crash_rank, crash, "probe", tensors=False)
        assert codes[crash_rank] == 137, (phase, errors)
