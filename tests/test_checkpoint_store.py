"""The checkpoint store on a folder and on S3 (moto server): commits, torn checkpoints, retention."""

import json

import pytest

from trainer.checkpoints.catalog import entries, latest_valid, prune
from trainer.checkpoints.manifest import MANIFEST, Manifest, digest, step_dir
from trainer.checkpoints.s3 import S3Store
from trainer.checkpoints.store import LocalStore
from trainer.checkpoints.writer import CheckpointWriter


@pytest.fixture(params=["folder", "s3"])
def store(request, tmp_path):
    if request.param == "folder":
        return LocalStore(tmp_path / "run" / "checkpoints")
    client, name = request.getfixturevalue("bucket")
    return S3Store(client, name, "prefix/run/checkpoints")


def commit(store, step: int, files: dict[str, bytes]) -> None:
    """Write a checkpoint the way ranks do: files, then the manifest last."""
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=100, log=print)
    submit(writer, step, files)
    writer.drain()  # its prune too: it reclaims torn folders older than this commit


def submit(writer, step: int, files: dict[str, bytes]) -> None:
    writer.submit(step, 0, {name: lambda fh, data=data: fh.write(data) for name, data in files.items()}, started=0.0)


def test_a_committed_checkpoint_is_found_with_its_bytes(store):
    commit(store, 10, {"trainer.pt": b"weights-10", "rank-0.pt": b"rng-10"})
    manifest, kept = latest_valid(store, keep=frozenset({"trainer.pt"}), log=print)
    assert manifest.step == 10
    assert manifest.files["trainer.pt"] == digest(b"weights-10")
    assert kept == {"trainer.pt": b"weights-10"}


TORN = {
    "truncated-file": (lambda s, f: s.write(f, "trainer.pt", b"weights-2"), "trainer.pt has 9 bytes, the manifest says 10"),
    "missing-manifest": (lambda s, f: s.delete_manifest(f), "no manifest (the save never committed)"),
    "wrong-hash": (lambda s, f: s.write(f, "trainer.pt", b"weights-X0"), "trainer.pt does not match its sha256"),
    "manifest-without-files": (lambda s, f: s.remove(f, "trainer.pt"), "trainer.pt is missing"),
}


@pytest.mark.parametrize("damage", TORN, ids=list(TORN))
def test_a_torn_checkpoint_falls_back_to_the_previous_one_with_one_line(store, damage):
    commit(store, 10, {"trainer.pt": b"weights-10"})
    commit(store, 20, {"trainer.pt": b"weights-20"})
    tear, reason = TORN[damage]
    tear(_Damage(store), step_dir(20))
    lines = []
    manifest, kept = latest_valid(store, keep=frozenset({"trainer.pt"}), log=lines.append)
    assert (manifest.step, kept) == (10, {"trainer.pt": b"weights-10"})
    assert lines == [f"checkpoint {store.location(step_dir(20))} is torn: {reason}; falling back to the one before"]


def test_no_checkpoint_means_a_fresh_start(store):
    assert latest_valid(store, keep=frozenset(), log=print) is None


def test_retention_keeps_the_last_n_and_reclaims_older_torn_folders(store):
    for step in (10, 20, 30, 40):
        commit(store, step, {"trainer.pt": f"w{step}".encode()})
    store.write(step_dir(15), "trainer.pt", b"half")  # torn: a save or a prune cut off by a kill
    store.write(step_dir(50), "trainer.pt", b"half")  # newer than the anchor: maybe being written
    assert prune(store, keep_last=2, newest_verified=40) == [step_dir(20), step_dir(15), step_dir(10)]
    assert [(e.step, e.valid) for e in entries(store)] == [(50, False), (40, True), (30, True)]


def test_retention_never_removes_the_checkpoint_it_keeps_by(store):
    for step in (10, 20):
        commit(store, step, {"trainer.pt": b"w"})
    prune(store, keep_last=1, newest_verified=20)
    assert [e.step for e in entries(store) if e.valid] == [20]


def test_a_newer_checkpoint_with_right_sizes_and_wrong_bytes_never_costs_the_verified_ones(store):
    for step in (10, 20, 30):
        commit(store, step, {"trainer.pt": f"w{step}".encode()})
    _Damage(store).write(step_dir(30), "trainer.pt", b"x30")  # same size, other bytes
    # The run resumed from 20 (30 does not verify) and its writer now commits 25, keeping one.
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=1, log=print)
    submit(writer, 25, {"trainer.pt": b"w25"})
    writer.drain()
    manifest, _ = latest_valid(store, keep=frozenset(), log=lambda _: None)
    assert manifest.step == 25
    assert [e.step for e in entries(store)] == [30, 25]


def test_a_folder_left_by_a_cut_off_prune_is_reclaimed_by_the_next_save(store):
    commit(store, 10, {"trainer.pt": b"w10", "rank-0.pt": b"r10"})
    _Damage(store).delete_manifest(step_dir(10))  # where a prune stops if killed after its first delete
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=3, log=print)
    submit(writer, 20, {"trainer.pt": b"w20"})
    writer.drain()
    assert store.folders() == [step_dir(20)]


def test_the_writer_prunes_after_each_commit(store):
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=2, log=print)
    for step in (1, 2, 3):
        submit(writer, step, {"trainer.pt": b"w"})
    writer.drain()
    assert [e.step for e in entries(store)] == [3, 2]
    assert writer.last_committed == 3


def test_rank_zero_commits_only_after_every_rank_wrote_its_part(store):
    rank1 = CheckpointWriter(store, rank=1, world_size=2, keep_last=5, log=print)
    rank0 = CheckpointWriter(store, rank=0, world_size=2, keep_last=5, log=print, peer_timeout=0.5)
    assert rank0.attempt == rank1.attempt
    submit(rank0, 7, {"trainer.pt": b"w", "rank-0.pt": b"r0"})
    with pytest.raises(TimeoutError, match="rank 1 never finished writing"):
        rank0.flush()
    assert store.read(step_dir(7), MANIFEST) is None  # nothing committed without rank 1
    rank0.error = None
    submit(rank1, 7, {"rank-1.pt": b"r1"})
    rank1.flush()
    submit(rank0, 7, {"trainer.pt": b"w", "rank-0.pt": b"r0"})
    rank0.flush()
    manifest = Manifest.from_json(store.read(step_dir(7), MANIFEST))
    assert sorted(manifest.files) == ["rank-0.pt", "rank-1.pt", "trainer.pt"]
    assert manifest.world_size == 2


def test_folder_commit_is_atomic_no_temp_file_left(tmp_path):
    store = LocalStore(tmp_path)
    commit(store, 1, {"trainer.pt": b"w"})
    names = sorted(p.name for p in (tmp_path / step_dir(1)).iterdir())
    assert names == [MANIFEST, "trainer.pt"]
    assert json.loads((tmp_path / step_dir(1) / MANIFEST).read_text())["step"] == 1


class _Damage:
    """Ways a save can be torn, for either backend."""

    def __init__(self, store):
        self.store = store

    def write(self, folder, name, data):
        self.store.write(folder, name, data)

    def remove(self, folder, name):
        if isinstance(self.store, LocalStore):
            (self.store.root / folder / name).unlink()
        else:
            self.store.client.delete_object(Bucket=self.store.bucket, Key=self.store.key(folder, name))

    def delete_manifest(self, folder):
        self.remove(folder, MANIFEST)


def test_the_hash_is_of_the_bytes_written_even_if_the_writer_reuses_its_buffer(tmp_path):
    """torch.save writes a CUDA tensor from a temporary CPU copy and frees it when write() returns; here the
    writer overwrites its buffer instead, which is what reused freed memory looks like to a late reader."""
    buffer = bytearray(bytes(range(256)) * 4096)  # 1 MiB: large enough to be passed on without a copy

    def write_then_reuse(fh):
        for _ in range(3):
            fh.write(memoryview(buffer))
            buffer[:] = bytes(len(buffer))  # the "freed" copy is reused for something else
    store = LocalStore(tmp_path)
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=1, log=print)
    writer.submit(1, 0, {"trainer.pt": write_then_reuse}, started=0.0)
    writer.flush()
    manifest = Manifest.from_json(store.read(step_dir(1), MANIFEST))
    assert manifest.files["trainer.pt"] == digest((tmp_path / step_dir(1) / "trainer.pt").read_bytes())


def test_part_records_appear_whole_while_rank_zero_polls_for_them(store):
    """Rank 0 reads rank 1's part as soon as it exists; 200 saves in a row must all commit."""
    rank0 = CheckpointWriter(store, rank=0, world_size=2, keep_last=2, log=print, peer_timeout=20, attempt="a")
    rank1 = CheckpointWriter(store, rank=1, world_size=2, keep_last=2, log=print, attempt="a")
    for step in range(1, 201 if isinstance(store, LocalStore) else 21):
        submit(rank1, step, {"rank-1.pt": b"r1" * step})
        submit(rank0, step, {"trainer.pt": b"w" * step})
        rank1.flush()
        rank0.flush()
    rank0.drain()
    assert rank0.last_committed == step and entries(store, verify_hashes=True)[0].valid


def test_a_part_left_by_an_earlier_attempt_does_not_count(store):
    old = CheckpointWriter(store, rank=1, world_size=2, keep_last=5, log=print, attempt="old")
    submit(old, 7, {"rank-1.pt": b"stale"})
    old.flush()
    rank0 = CheckpointWriter(store, rank=0, world_size=2, keep_last=5, log=print, peer_timeout=0.5, attempt="new")
    submit(rank0, 7, {"trainer.pt": b"w"})
    with pytest.raises(TimeoutError, match="rank 1 never finished writing"):
        rank0.flush()
    assert store.read(step_dir(7), MANIFEST) is None


def test_a_save_that_would_not_fit_the_grace_period_is_warned_about():
    from trainer.preemption import grace_warning
    assert grace_warning(5.0, 15) is None
    assert grace_warning(14.0, 15).startswith("the last checkpoint took 14.0 s to commit; the grace period is 15 s")


UPLOAD_THEN_HANG = """
import os, sys, boto3
from trainer.checkpoints.s3 import S3Store
store = S3Store(boto3.client("s3", endpoint_url=sys.argv[1]), sys.argv[2], "prefix/run/checkpoints")
with store.open_write("step-0000000001", "trainer.pt") as fh:
    fh.write(os.urandom(64 << 20))
store.publish("step-0000000001", "trainer.pt")
"""


def test_multipart_uploads_cut_by_sigkill_are_aborted_at_start_up(bucket, s3_endpoint):
    import subprocess
    import sys
    import time

    from tests.factory import ROOT
    client, name = bucket
    proc = subprocess.Popen([sys.executable, "-c", UPLOAD_THEN_HANG, s3_endpoint, name], cwd=ROOT)
    while proc.poll() is None and not client.list_multipart_uploads(Bucket=name).get("Uploads"):
        time.sleep(0.02)
    proc.kill()  # mid-upload, as a node loss would
    proc.wait()
    assert client.list_multipart_uploads(Bucket=name).get("Uploads"), "the upload finished before the kill"
    store = S3Store(client, name, "prefix/run/checkpoints")
    assert store.reclaim_uploads() == 1
    assert not client.list_multipart_uploads(Bucket=name).get("Uploads")


def test_tensor_files_are_hashed_from_their_own_memory_and_everything_else_from_copies(tmp_path):
    """torch.save hands over each CPU tensor's storage in place: that memory is the state's (unchanged until
    the save is done), so it is hashed where it is; the pickle and zip headers are torch's own buffers, so
    they are copied first. Either way the manifest holds the hash of the file's bytes."""
    import torch

    from trainer.checkpoints.manifest import HashingFile
    from trainer.checkpoints.state import TorchFile

    weights = torch.arange(1 << 20, dtype=torch.float32)
    serialise = TorchFile({"weights": weights, "step": 3})
    in_place = []

    class Watched(HashingFile):
        def _is_owned(self, view):
            owned = super()._is_owned(view)
            in_place.append((view.nbytes, owned))
            return owned
    store = LocalStore(tmp_path)
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=1, log=print)
    from trainer.checkpoints import writer as writer_module
    real, writer_module.HashingFile = writer_module.HashingFile, Watched
    try:
        writer.submit(1, 0, {"trainer.pt": serialise}, started=0.0)
        writer.flush()
    finally:
        writer_module.HashingFile = real
    manifest = Manifest.from_json(store.read(step_dir(1), MANIFEST))
    assert manifest.files["trainer.pt"] == digest((tmp_path / step_dir(1) / "trainer.pt").read_bytes())
    assert (weights.untyped_storage().nbytes(), True) in in_place  # the tensor, hashed in place
    assert all(not owned for size, owned in in_place if size < 1 << 20)  # headers and pickle, copied


def test_a_file_of_many_parts_arrives_whole_and_verifies(store):
    """On S3 a large file goes up part by part while it is written; written here in odd-sized pieces."""
    import os
    data = os.urandom((20 << 20) + 12345)

    def in_pieces(fh):
        for start in range(0, len(data), 3 << 20 | 777):
            fh.write(data[start:start + (3 << 20 | 777)])
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=2, log=print)
    writer.submit(1, 0, {"trainer.pt": in_pieces}, started=0.0)
    writer.flush()
    manifest, kept = latest_valid(store, keep=frozenset({"trainer.pt"}), log=print)
    assert kept["trainer.pt"] == data and manifest.files["trainer.pt"] == digest(data)
    if isinstance(store, S3Store):
        assert not store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads")
