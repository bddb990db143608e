"""Kill and resume: a run preempted at random points ends with the weights of a run never interrupted."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.factory import ROOT
from tests.trainer_env import run_trainer, trainer_config
from trainer.checkpoints.catalog import entries
from trainer.checkpoints.manifest import step_dir
from trainer.checkpoints.store import LocalStore
from trainer.checkpoints.uri import open_store

LONG = {"train": {"max_steps": 48, "epochs": 20, "batch_size": 8}, "checkpoint": {"every_n_steps": 6}}


def start_gang(config, nodes: int, port: int, env: dict) -> list[subprocess.Popen]:
    return [start_index(config, rank, nodes, port, env) for rank in range(nodes)]


def start_index(config, index: int, nodes: int, port: int, env: dict) -> subprocess.Popen:
    """One pod of the gang: `python -m trainer` with the environment contract of completion index `index`."""
    ckpt = yaml.safe_load(config.read_text())["storage"]["checkpoints"]
    contract = {"NODE_RANK": str(index), "NNODES": str(nodes), "NPROC_PER_NODE": "1", "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(port), "RUN_ID": "run", "CHECKPOINT_URI": ckpt.get("uri") or ckpt["mount"], **env}
    return subprocess.Popen([sys.executable, "-m", "trainer", "--config", str(config)], cwd=ROOT,
                            env={**os.environ, **contract}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_new_checkpoint(store, seen: set[int], procs, timeout=120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and all(p.poll() is None for p in procs):
        if {e.step for e in entries(store) if e.valid} - seen:
            return
        time.sleep(0.02)


def run_with_preemptions(config, nodes: int, kills: int, seed: int, env=None, how=signal.SIGTERM,
                         finish: bool = True) -> list[list[int]]:
    """Restart the gang until it finishes; after each new checkpoint, signal a random rank at a random moment."""
    env = env or {}
    rng = random.Random(seed)
    raw = yaml.safe_load(config.read_text())["storage"]["checkpoints"]
    store = open_store(raw.get("uri") or raw.get("mount"), "run")
    history = []
    for attempt in range(kills + 8):
        procs = start_gang(config, nodes, 29800 + 10 * attempt + seed % 7, env)
        if len(history) < kills:
            seen = {e.step for e in entries(store) if e.valid}
            wait_for_new_checkpoint(store, seen, procs)
            time.sleep(rng.uniform(0, 0.15))
            victims = [rng.randrange(nodes)] if how == signal.SIGTERM else range(nodes)
            for victim in victims:
                if procs[victim].poll() is None:
                    procs[victim].send_signal(how)
        results = [(p, *p.communicate(timeout=300)) for p in procs]
        codes = [p.returncode for p, _, _ in results]
        history.append(codes)
        if codes == [0] * nodes or (not finish and len(history) == kills):
            return history
        assert all(c in (75, -signal.SIGKILL) for c in codes), results[0][2][-3000:]
    raise AssertionError(f"never finished: {history}")


def final_digests(config) -> list[str]:
    raw = yaml.safe_load(config.read_text())["storage"]["checkpoints"]
    store = open_store(raw.get("uri") or raw.get("mount"), "run", area="final")
    return json.loads(store.read("", "metrics.json"))["weights_sha256_per_rank"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """Final weights of runs never interrupted, by node count."""
    out = {}
    for nodes in (1, 2):
        config = trainer_config(tmp_path_factory.mktemp(f"clean{nodes}"), resources={"nodes": nodes}, **LONG)
        for proc, _, err in run_trainer(config, nodes=nodes, port=29750 + nodes):
            assert proc.returncode == 0, err[-2000:]
        out[nodes] = final_digests(config)
    return out


def test_sigterm_at_random_points_resumes_bit_identical(tmp_path, uninterrupted):
    config = trainer_config(tmp_path, **LONG)
    history = run_with_preemptions(config, nodes=1, kills=3, seed=1)
    assert history[:3] == [[75]] * 3
    assert final_digests(config) == uninterrupted[1]


def test_two_ddp_processes_preempted_resume_bit_identical(tmp_path, uninterrupted):
    """Three spot notices at random moments to random pods of a 2-pod gang, through the local runner (only
    the noticed pod is replaced; the other's agent re-forms the gang with the replacement)."""
    from tests.test_local_runner import launch_train, local_world
    config, volumes = local_world(tmp_path, resources={"nodes": 2}, **LONG)
    rng = random.Random(2)
    drills = [arg for _ in range(3) for arg in ("--preempt-after", f"{rng.uniform(0.1, 0.5):.2f}")]
    result = launch_train(tmp_path, config, *volumes, *drills)
    summary = json.loads(result.stdout.splitlines()[-1])
    assert (summary["status"], summary["failures"]) == ("Succeeded", 0), result.stderr[-3000:]
    history = json.loads((tmp_path / "runs" / summary["run_id"] / "run.json").read_text())["history"]
    drilled = [h["exit_code"] for h in history if h["drill"]]
    # Each noticed pod committed and requeued, or (a notice during the final save) finished the run.
    assert set(drilled) <= {75, 0} and drilled.count(75) >= 2, drilled
    final = json.loads((tmp_path / "ckpt" / summary["run_id"] / "final" / "metrics.json").read_text())
    assert final["weights_sha256_per_rank"] == uninterrupted[2]


def test_s3_checkpoints_resume_bit_identical(tmp_path, uninterrupted, bucket, s3_endpoint, monkeypatch):
    client, name = bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    config = trainer_config(tmp_path, storage={"checkpoints": {"uri": f"s3://{name}/runs", "secret": "s3"}}, **LONG)
    env = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    history = run_with_preemptions(config, nodes=1, kills=2, seed=3, env=env)
    assert history[:2] == [[75]] * 2
    assert final_digests(config) == uninterrupted[1]
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=name, Prefix="runs/run/final/")["Contents"]]
    assert "runs/run/final/model.safetensors" in keys


def test_sigkill_without_notice_loses_only_steps_since_the_last_checkpoint(tmp_path, uninterrupted):
    config = trainer_config(tmp_path, **LONG)
    history = run_with_preemptions(config, nodes=1, kills=2, seed=4, how=signal.SIGKILL)
    assert history[:2] == [[-signal.SIGKILL]] * 2
    assert final_digests(config) == uninterrupted[1]


def test_a_torn_newest_checkpoint_is_skipped_and_the_run_still_ends_bit_identical(tmp_path, uninterrupted):
    config = trainer_config(tmp_path, **LONG)
    assert run_with_preemptions(config, nodes=1, kills=1, seed=5, finish=False) == [[75]]
    # What a SIGKILL in the middle of a save leaves behind: files of a newer step, no manifest.
    store = LocalStore(tmp_path / "ckpt" / "run" / "checkpoints")
    newest = max(e.step for e in entries(store) if e.valid)
    store.write(step_dir(newest + 1), "trainer.pt", b"half a checkpoint")
    ((proc, out, err),) = run_trainer(config)
    assert proc.returncode == 0, err[-2000:]
    assert f"step-{newest + 1:010d} is torn: no manifest (the save never committed); falling back" in out
    assert final_digests(config) == uninterrupted[1]


def test_requeues_without_progress_stop_with_a_crash_code(tmp_path):
    config = trainer_config(tmp_path, checkpoint={"max_requeues_without_progress": 2})
    codes = []
    for attempt in range(2):
        procs = start_gang(config, 1, 29900 + attempt, {})
        time.sleep(1.0)  # still loading: no step can be gained
        procs[0].send_signal(signal.SIGTERM)
        out, err = procs[0].communicate(timeout=120)
        codes.append(procs[0].returncode)
    assert codes == [75, 1]
    assert "requeued 2 times in a row at step 0 without a new checkpoint" in err
