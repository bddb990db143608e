"""SIGTERM in every window of a run, and failures that are not preemptions: each ends in a committed
checkpoint and the requeue code, a complete final model and 0, or a counted failure, never "succeeded"
without a model and never an endless free requeue. Real processes, real signals at the named points."""

import json
import signal
import socket
import subprocess
import time

import psutil

from tests.test_resume import final_digests, start_gang
from tests.watch import wait_for_line, watch
from tests.trainer_env import run_trainer, trainer_config, write_dataset
from trainer.checkpoints.catalog import entries
from trainer.checkpoints.store import LocalStore


def signal_when(proc: subprocess.Popen, marker: str, signum=signal.SIGTERM) -> list[str]:
    """Read `proc`'s stdout until a line holds `marker`, then send it `signum`; returns the lines read."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            proc.send_signal(signum)
            return lines
    raise AssertionError(f"never printed {marker!r}: {''.join(lines)[-2000:]}")


def final_dir(config):
    return config.parent / "ckpt" / "run" / "final"


def committed_steps(config) -> list[int]:
    return [e.step for e in entries(LocalStore(config.parent / "ckpt" / "run" / "checkpoints"), True) if e.valid]


def test_sigterm_during_the_final_test_requeues_with_the_last_step_committed_then_finishes(tmp_path):
    config = trainer_config(tmp_path)
    write_dataset(tmp_path / "data", rows=64, test_rows=4000)  # a test long enough to be interrupted
    (proc,) = start_gang(config, 1, 29531, {})
    signal_when(proc, "evaluating on the test split")
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 75, err[-2000:]
    assert "requeue: stopped at step 4 on SIGTERM" in err
    assert not (final_dir(config) / "manifest.json").exists()
    assert committed_steps(config)[0] == 4  # the last step, committed before the test began

    ((again, out, err),) = run_trainer(config)
    assert again.returncode == 0, err[-2000:]
    metrics = json.loads((final_dir(config) / "metrics.json").read_text())
    assert (metrics["resumed_from_step"], metrics["steps"]) == (4, 4)
    assert (final_dir(config) / "manifest.json").is_file()


def test_sigterm_all_through_fit_start_up_with_accumulation_requeues_never_exit_0(tmp_path):
    """Signals every 50 ms from just before fit() until the process ends: one lands in each start-up window
    (before fit, while Lightning sets up, at the first accumulated batch)."""
    config = trainer_config(tmp_path, train={"grad_accumulation": 2, "max_steps": 4})
    (proc,) = start_gang(config, 1, 29533, {})
    signal_when(proc, "training from step")
    while proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 75, err[-2000:]
    assert not final_dir(config).exists()


def test_sigterm_to_one_ddp_rank_at_fit_start_up_stops_both_well_inside_the_grace_period(tmp_path):
    config = trainer_config(tmp_path, resources={"nodes": 2}, train={"max_steps": 200, "epochs": 100})
    pods = watch(start_gang(config, 2, 29535, {}))
    wait_for_line(pods, "training from step")
    for pod in pods:  # a node drain reaches every pod, at fit start-up
        pod.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    codes = [pod.finish(timeout=120)[0] for pod in pods]
    assert codes == [75, 75]
    assert time.monotonic() - started < 60  # the old desynchronised handler blocked for the peer timeout
    assert committed_steps(config)


def test_a_run_whose_final_model_verifies_trains_nothing_again(tmp_path):
    config = trainer_config(tmp_path)
    ((proc, _, err),) = run_trainer(config)
    assert proc.returncode == 0, err[-2000:]
    digests = final_digests(config)
    ((again, out, err),) = run_trainer(config)
    assert again.returncode == 0, err[-2000:]
    assert "already finished: the final model in" in out and "training from step" not in out
    assert final_digests(config) == digests


def test_a_port_that_never_frees_is_a_crash_not_a_free_requeue(tmp_path):
    config = trainer_config(tmp_path, resources={"nodes": 2}, job={"peer_timeout_seconds": 10})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ((proc, _, err),) = run_trainer(config, port=taken.getsockname()[1], nodes=1, NNODES="2")
    assert proc.returncode == 1, err[-2000:]


def test_waiting_for_a_peer_that_is_not_scheduled_is_a_free_requeue(tmp_path):
    config = trainer_config(tmp_path, resources={"nodes": 2}, job={"peer_timeout_seconds": 3},
                            checkpoint={"max_requeues_without_progress": 1})
    for attempt in range(2):  # never counted: a limit of 1 would otherwise stop the second
        ((proc, _, err),) = run_trainer(config, port=29541 + attempt, nodes=1, NNODES="2")
        assert proc.returncode == 75, err[-2000:]
        assert "requeue: the gang of 2 did not form within 3 s" in err


def test_lost_peer_requeues_without_progress_are_counted(tmp_path):
    config = trainer_config(tmp_path, resources={"nodes": 2}, job={"peer_timeout_seconds": 20},
                            train={"max_steps": 100000, "epochs": 100000},
                            checkpoint={"every_n_steps": None, "every_n_minutes": None,
                                        "max_requeues_without_progress": 1})
    pods = watch(start_gang(config, 2, 29545, {}))
    wait_for_line(pods, "reached step")  # trained, and nothing committed
    root = psutil.Process(pods[1].proc.pid)
    for process in [root, *root.children(recursive=True)]:
        process.kill()  # a node vanishes before any checkpoint: its agent and worker at once
    code, output = pods[0].finish(timeout=120)
    assert code == 1, output[-2000:]
    assert "requeued 1 times in a row at step 0 without a new checkpoint" in output


S3_ENV = {"AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "2"}


def s3_trainer(tmp_path, uri: str, **env):
    config = trainer_config(tmp_path, storage={"checkpoints": {"uri": uri, "secret": "s3"}})
    ((proc, out, err),) = run_trainer(config, **S3_ENV, **env)
    return proc, out, err


def test_a_missing_bucket_is_one_line_and_exit_2(tmp_path, s3_endpoint):
    proc, _, err = s3_trainer(tmp_path, "s3://no-such-bucket/runs", AWS_ENDPOINT_URL=s3_endpoint)
    assert proc.returncode == 2
    assert err.strip() == ("error: checkpoint store s3://no-such-bucket: the bucket does not exist (create it, or "
                           "fix storage.checkpoints.uri)")


def test_no_s3_credentials_is_one_line_and_exit_2(tmp_path, bucket, s3_endpoint, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    proc, _, err = s3_trainer(tmp_path, f"s3://{bucket[1]}/runs", AWS_ENDPOINT_URL=s3_endpoint,
                              AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), AWS_CONFIG_FILE=str(tmp_path / "none"))
    assert proc.returncode == 2
    assert err.strip().startswith(f"error: checkpoint store s3://{bucket[1]}: no S3 credentials")


def test_an_unreachable_endpoint_is_retried_then_one_line_and_a_counted_crash(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nothing listens
    proc, _, err = s3_trainer(tmp_path, "s3://bucket/runs", AWS_ENDPOINT_URL=endpoint,
                              AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    assert proc.returncode == 1
    assert err.strip().startswith("error: checkpoint store s3://bucket: unreachable after retries: Could not connect")
    assert "Traceback" not in err
