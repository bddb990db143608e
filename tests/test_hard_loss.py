"""A node that vanishes without notice: only its index is replaced, the gang re-forms in a fresh rendezvous
round, and the run ends with the weights of a run never interrupted (deterministic replay from the last
committed checkpoint). SIGKILL reaches every process of the pod at once, as when its node is lost."""

import json
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.test_resume import LONG, final_digests, start_gang, start_index
from tests.trainer_env import run_trainer, trainer_config
from tests.factory import run_launch

SHORT = ("--set", "checkpoint.every_n_steps=10", "--pod-backoff", "1")  # smoke.yaml: 100 steps


def smoke(tmp_path, volumes, run_id: str, *args) -> tuple[dict, str]:
    result = run_launch("train", "configs/smoke.yaml", "--local", "--run-id", run_id, "--runs-root",
                        str(tmp_path / "runs"), "--volumes-root", str(volumes), "--volume",
                        f"checkpoints={tmp_path / run_id}", "-o", "json", *SHORT, *args, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1]), result.stderr


def weights(summary: dict) -> list[str]:
    return json.loads((Path(summary["final_dir"]) / "metrics.json").read_text())["weights_sha256_per_rank"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory, smoke_volumes):
    """Final runs of uninterrupted smoke runs, by node count."""
    tmp = tmp_path_factory.mktemp("clean")
    return {nodes: smoke(tmp, smoke_volumes, f"clean-{nodes}", "--set", f"resources.nodes={nodes}")[0]
            for nodes in (2, 3)}


@pytest.mark.parametrize("nodes, index", [(2, 1), (2, 0), (3, 1)], ids=["index-1", "index-0-the-host", "3-nodes"])
def test_a_hard_kill_replaces_one_index_and_ends_bit_identical(tmp_path, smoke_volumes, clean, nodes, index):
    summary, log = smoke(tmp_path, smoke_volumes, f"kill-{nodes}-{index}", "--set", f"resources.nodes={nodes}",
                         "--kill-after", "1", "--kill-index", str(index))
    assert (summary["status"], summary["failures"]) == ("Succeeded", 0)
    history = json.loads((tmp_path / "runs" / f"kill-{nodes}-{index}" / "run.json").read_text())["history"]
    assert [(h["index"], h["attempt"], h["exit_code"]) for h in history if h["drill"]] == \
        [(index, 1, -signal.SIGKILL)]
    assert "hard-kill drill at step" in log
    assert "step(s) replayed" in log and "resumed from the checkpoint at step" in log
    assert weights(summary) == weights(clean[nodes])


def tree(proc) -> list[psutil.Process]:
    root = psutil.Process(proc.pid)
    return [root, *root.children(recursive=True)]


@pytest.fixture(scope="module")
def uninterrupted_two(tmp_path_factory):
    config = trainer_config(tmp_path_factory.mktemp("clean2"), resources={"nodes": 2}, **LONG)
    for proc, _, err in run_trainer(config, nodes=2, port=29851):
        assert proc.returncode == 0, err[-2000:]
    return final_digests(config)


def wait_for_checkpoint(config, procs) -> None:
    manifests = config.parent / "ckpt" / "run" / "checkpoints"
    while not list(manifests.glob("step-*/manifest.json")):
        assert all(p.poll() is None for p in procs)
        time.sleep(0.1)


def test_a_replacement_never_joins_the_stale_group_of_a_blocked_rank(tmp_path, uninterrupted_two):
    """Index 1's node stops answering (its processes frozen, sockets open): index 0's workers stay blocked
    in a collective with it. A replacement for index 1 joins a fresh round, never that group."""
    config = trainer_config(tmp_path, resources={"nodes": 2}, job={"peer_timeout_seconds": 120}, **LONG)
    procs = start_gang(config, 2, 29861, {})
    wait_for_checkpoint(config, procs)
    frozen = tree(procs[1])
    for process in frozen:
        process.suspend()  # SIGSTOP: alive, silent
    replacement = start_index(config, 1, 2, 29861, {})
    try:
        results = communicate_all([procs[0], replacement], timeout=300)
    finally:
        for process in frozen:
            process.kill()
    assert [proc.returncode for proc in (procs[0], replacement)] == [0, 0], results[0][1][-2000:]
    assert final_digests(config) == uninterrupted_two


def communicate_all(procs, timeout: float) -> list[tuple[str, str]]:
    """Drain every process's pipes at once (one full pipe would block its process, and so the gang)."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(len(procs)) as pool:
        return list(pool.map(lambda p: p.communicate(timeout=timeout), procs))


def test_a_replacement_later_than_the_peer_timeout_is_waited_for_not_counted(tmp_path, uninterrupted_two):
    config = trainer_config(tmp_path, resources={"nodes": 2}, job={"peer_timeout_seconds": 6},
                            checkpoint={"max_requeues_without_progress": 1, "every_n_steps": 6},
                            train={"max_steps": 48, "epochs": 20, "batch_size": 8})
    procs = start_gang(config, 2, 29871, {})
    wait_for_checkpoint(config, procs)
    for process in tree(procs[1]):
        process.kill()
    _, err = procs[0].communicate(timeout=120)  # its workers lose the peer; the next round does not fill
    assert procs[0].returncode == 75, err[-2000:]
    assert "did not form within 6 s" in err
    # The Job controller replaces both pods; the run goes on and no crash was counted on the way.
    for proc, _, err in run_trainer(config, nodes=2, port=29872):
        assert proc.returncode == 0, err[-2000:]
    assert final_digests(config) == uninterrupted_two
    requeues = tmp_path / "ckpt" / "run" / "requeues.json"  # written by rank 0, if it was the survivor
    assert not requeues.exists() or json.loads(requeues.read_text())["without_progress"] == 0


def test_a_rendezvous_host_that_is_up_but_unreachable_is_a_crash_after_a_few_attempts(tmp_path):
    """A missing Service, a NetworkPolicy on master_port or broken DNS: index 0 hosts the rendezvous (its
    agent beats the host record in the checkpoint store) but index 1 cannot even connect. That is requeued a
    few times, then a crash naming the host and port, instead of exit 75 forever; while index 0 is not up
    (no fresh beat) waiting stays free."""
    from trainer.checkpoints.uri import open_store
    from trainer.rendezvous import UNREACHABLE_LIMIT, beat_host

    config = trainer_config(tmp_path, resources={"nodes": 2}, job={"peer_timeout_seconds": 2})
    closed = free_port()  # nothing listens there: as index 1 sees a host its packets never reach
    index_1 = {"NODE_RANK": "1", "MASTER_PORT": str(closed)}

    def attempt() -> tuple[int, str]:
        (proc, _, err), = run_trainer(config, nodes=1, port=closed, NNODES="2", **index_1)
        return proc.returncode, err

    waiting = attempt()  # index 0 never beat: not scheduled yet
    assert waiting[0] == 75 and "is not up yet (index 0 not running?)" in waiting[1], waiting[1][-2000:]
    records = open_store(str(tmp_path / "ckpt"), "run")
    codes = []
    for _ in range(UNREACHABLE_LIMIT):
        beat_host(records, f"127.0.0.1:{closed}", time.time())  # index 0's agent hosts it meanwhile
        codes.append(attempt())
    assert [code for code, _ in codes] == [75] * (UNREACHABLE_LIMIT - 1) + [1], codes[-1][1][-2000:]
    assert f"error: cannot connect to the rendezvous host 127.0.0.1:{closed}: {UNREACHABLE_LIMIT} attempts " \
           "in a row while index 0 was hosting it" in codes[-1][1]


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
