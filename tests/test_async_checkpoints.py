"""Periodic checkpoints written in the background: a SIGTERM while one is in flight still ends with a
committed, verified checkpoint (the one in flight or a newer one) before the requeue exit, and the run
resumes from it bit-identical to a run never interrupted. The save is held in flight by tests/slow_saves.py."""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.factory import ROOT
from tests.test_resume import LONG, final_digests
from tests.trainer_env import run_trainer, trainer_config
from trainer.checkpoints.catalog import entries, latest_valid
from trainer.checkpoints.store import LocalStore


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    config = trainer_config(tmp_path_factory.mktemp("clean"), **LONG)
    ((proc, _, err),) = run_trainer(config, port=29771)
    assert proc.returncode == 0, err[-2000:]
    return final_digests(config)


def start_slow_trainer(config, delay: float) -> subprocess.Popen:
    ckpt = yaml.safe_load(config.read_text())["storage"]["checkpoints"]
    contract = {"NODE_RANK": "0", "NNODES": "1", "NPROC_PER_NODE": "1", "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": "29773", "RUN_ID": "run", "CHECKPOINT_URI": ckpt["mount"]}
    return subprocess.Popen([sys.executable, "-m", "tests.slow_saves", str(delay), "--config", str(config)],
                            cwd=ROOT, env={**os.environ, **contract}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def wait_for_a_save_in_flight(store, proc, timeout: float = 120.0) -> int:
    """The step of a save whose files are being written (a step folder, no manifest yet)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        torn = [e.step for e in entries(store) if not e.valid]
        if torn:
            return torn[0]
        time.sleep(0.01)
    raise AssertionError(f"no save was seen in flight: {proc.communicate()[1][-2000:]}")


def test_sigterm_during_a_background_save_commits_a_verified_checkpoint_before_exit_75(tmp_path, uninterrupted):
    config = trainer_config(tmp_path, **LONG)
    store = LocalStore(tmp_path / "ckpt" / "run" / "checkpoints")
    proc = start_slow_trainer(config, delay=1.5)
    in_flight = wait_for_a_save_in_flight(store, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 75, err[-3000:]
    manifest, _ = latest_valid(store, keep=frozenset(), log=print)  # verifies every file's sha256
    assert manifest.step >= in_flight
    assert [e.step for e in entries(store) if not e.valid] == []  # nothing left half-written
    ((proc, _, err),) = run_trainer(config, port=29775)
    assert proc.returncode == 0, err[-2000:]
    assert final_digests(config) == uninterrupted
