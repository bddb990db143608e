"""`launch train --local`: the rendered Job run here, with Job semantics and preemption drills."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from launcher.local.pods import plain_line
from tests.children import started
from tests.factory import ROOT, run_launch
from tests.trainer_env import trainer_config


def launch_train(tmp_path, config, *args):
    return run_launch("train", str(config), "--local", "--runs-root", str(tmp_path / "runs"),
                      "--volumes-root", str(tmp_path / "volumes"), "-o", "json", "--pod-backoff", "0.5", *args,
                      timeout=600)


def local_world(tmp_path, **sections):
    """A trainer config whose claims the runner maps to the folders trainer_config filled."""
    config = trainer_config(tmp_path, **sections)
    raw = yaml.safe_load(config.read_text())
    volumes = [f"--volume={raw['storage'][k]['claim']}={raw['storage'][k]['mount']}"
               for k in ("dataset", "model", "checkpoints")]
    return config, volumes


def smoke(tmp_path, volumes, *args):
    result = run_launch("train", "configs/smoke.yaml", "--local", "--runs-root", str(tmp_path / "runs"),
                        "--volumes-root", str(volumes), "--volume", f"checkpoints={tmp_path / 'ckpt'}",
                        "-o", "json", "--pod-backoff", "0.5", *args, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_smoke_survives_two_preemption_drills_bit_identical_to_no_drill(tmp_path, smoke_volumes):
    clean = smoke(tmp_path, smoke_volumes, "--run-id", "smoke-clean")
    drilled = smoke(tmp_path, smoke_volumes, "--run-id", "smoke-drilled", "--preempt-after", "0.5",
                    "--preempt-after", "1.0", "--preempt-index", "1")
    assert (drilled["status"], drilled["attempts"], drilled["preemptions"], drilled["failures"]) == \
        ("Succeeded", 4, 2, 0)  # 2 pods, and a replacement for each drilled one
    history = json.loads((tmp_path / "runs" / "smoke-drilled" / "run.json").read_text())["history"]
    drilled_pods = [h for h in history if h["drill"]]
    assert [(h["exit_code"], h["drill"]) for h in drilled_pods] == [(75, "preempt")] * 2
    assert sorted(h["exit_code"] for h in history if not h["drill"]) == [0, 0]
    weights = [json.loads((Path(run["final_dir"]) / "metrics.json").read_text())["weights_sha256_per_rank"]
               for run in (clean, drilled)]
    assert weights[0] == weights[1]
    assert drilled["metrics"]["steps"] == clean["metrics"]["steps"] == 100


def test_a_finished_run_is_reported_not_rerun(tmp_path):
    config, volumes = local_world(tmp_path)
    first = json.loads(launch_train(tmp_path, config, *volumes).stdout.splitlines()[-1])
    again = launch_train(tmp_path, config, *volumes)
    assert again.returncode == 0
    assert json.loads(again.stdout.splitlines()[-1]) == first
    assert f"[job] run {first['run_id']} already succeeded: nothing to do; to train again, pass a new --run-id\n" \
        in again.stderr
    drilled = launch_train(tmp_path, config, *volumes, "--preempt-after", "1")
    assert (drilled.returncode, json.loads(drilled.stdout.splitlines()[-1])) == (0, first)
    assert (f"[job] run {first['run_id']} already succeeded: nothing to do (the drills were not used); to train "
            "again, pass a new --run-id\n") in drilled.stderr


def test_another_config_under_an_existing_run_id_is_an_error(tmp_path):
    config, volumes = local_world(tmp_path)
    launch_train(tmp_path, config, *volumes, "--run-id", "mine")
    result = launch_train(tmp_path, config, *volumes, "--run-id", "mine", "--set", "train.lr=0.5")
    assert result.returncode == 2
    assert result.stderr.startswith("error: run id mine already holds another config")


def test_a_config_error_exits_2_before_any_process_starts(tmp_path):
    config, volumes = local_world(tmp_path)
    result = launch_train(tmp_path, config, *volumes, "--set", "resources.memory=4GB")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_bad_data_fails_at_once_without_retries(tmp_path):
    config, volumes = local_world(tmp_path, job={"backoff_limit": 3})
    (tmp_path / "data" / "train.jsonl").write_text("")
    result = launch_train(tmp_path, config, *volumes)
    summary = json.loads(result.stdout.splitlines()[-1])
    assert result.returncode == 2  # the README's exit code for bad config or data
    assert (summary["status"], summary["attempts"]) == ("Failed", 1)
    assert summary["reason"].startswith("PodFailurePolicy: bad config or data (exit 2), not retried: error: ")
    assert summary["reason"].endswith("the file has no rows")


def test_a_crashing_trainer_is_retried_backoff_limit_times_then_failed_with_its_last_lines(tmp_path):
    config, volumes = local_world(tmp_path, job={"backoff_limit": 1})
    # A tokenizer that is there but broken: a crash (exit 1), not a config error.
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{not json")
    (broken / "tokenizer_config.json").write_text("{}")
    result = launch_train(tmp_path, config, f"--volume=models={tmp_path}", *volumes[:1], *volumes[2:],
                          "--set", "model.path=broken-model")
    summary = json.loads(result.stdout.splitlines()[-1])
    assert (summary["status"], summary["attempts"], summary["failures"]) == ("Failed", 2, 2)
    assert summary["reason"] == "BackoffLimitExceeded: 2 crash(es), backoffLimit 1"
    assert "last lines of index 0:" in result.stderr
    assert "  | " in result.stderr


def test_status_list_and_logs_read_the_run_folder(tmp_path):
    config, volumes = local_world(tmp_path)
    summary = json.loads(launch_train(tmp_path, config, *volumes).stdout.splitlines()[-1])
    runs = ["--local", "--runs-root", str(tmp_path / "runs")]
    status = json.loads(run_launch("status", summary["run_id"], *runs, "-o", "json").stdout)
    assert status == summary
    listed = json.loads(run_launch("list", *runs, "-o", "json").stdout)
    assert [r["run_id"] for r in listed] == [summary["run_id"]]
    log = run_launch("logs", summary["run_id"], *runs).stdout
    assert "finished: steps=4" in log
    zero = run_launch("logs", summary["run_id"], *runs, "--attempt", "0")
    assert (zero.returncode, zero.stderr) == (2, "error: --attempt 0: attempts count from 1 (default: the last)\n")


@pytest.mark.parametrize("raw, shown", [
    ("plain\n", "plain"),
    ("Epoch 0:  5%|5/100\rEpoch 0: 10%|10/100\n", "Epoch 0: 10%|10/100"),
    ("\x1b[AValidation: 0/? \x1b[32mok\x1b[0m  \r\n", "Validation: 0/? ok"),
    ("\x1b]0;title\x07text\x1b7\n", "text"),
    ("\r\x1b[2K\n", ""),
])
def test_saved_and_echoed_lines_are_plain(raw, shown):
    assert plain_line(raw) == shown


def test_active_deadline_fails_the_job(tmp_path):
    config, volumes = local_world(tmp_path, train={"max_steps": 100000, "epochs": 100000},
                                  job={"active_deadline_seconds": 8})
    result = launch_train(tmp_path, config, *volumes)
    summary = json.loads(result.stdout.splitlines()[-1])
    assert (result.returncode, summary["status"]) == (1, "Failed")
    assert summary["reason"] == "DeadlineExceeded: ran past activeDeadlineSeconds=8"


def launch_command(tmp_path, config, volumes, *args) -> list[str]:
    return [sys.executable, "-m", "launcher", "train", str(config), "--local", "--runs-root", str(tmp_path / "runs"),
            "--volumes-root", str(tmp_path / "volumes"), *volumes, *args]


def popen_launch(tmp_path, config, volumes, *args):
    """`launch train --local` started as a user's terminal would (Ctrl-C acts, whatever this test run
    inherited: tests/children.py), killed with every trainer it started when the test ends."""
    return started(launch_command(tmp_path, config, volumes, *args), cwd=ROOT, stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, text=True)


def wait_for_a_checkpoint(proc, tmp_path) -> None:
    while proc.poll() is None and not list((tmp_path / "ckpt").glob("*/checkpoints/step-*/manifest.json")):
        time.sleep(0.1)


def test_ctrl_c_stops_every_index_gracefully_and_the_run_resumes_later(tmp_path):
    config, volumes = local_world(tmp_path, train={"max_steps": 100000, "epochs": 100000})
    with popen_launch(tmp_path, config, volumes) as proc:
        wait_for_a_checkpoint(proc, tmp_path)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:]
    (state_file,) = (tmp_path / "runs").glob("*/run.json")
    state = json.loads(state_file.read_text())
    assert state["status"] == "Cancelled"
    assert state["history"][-1]["exit_code"] == 75
    assert "requeue: stopped at step" in out  # the trainer committed a checkpoint on the way out


def run_state(tmp_path) -> dict:
    (state_file,) = (tmp_path / "runs").glob("*/run.json")
    return json.loads(state_file.read_text())


def test_a_reader_that_goes_away_does_not_stop_the_run(tmp_path):
    """`launch train --local | head -1`: the run goes on to the end, its logs complete."""
    config, volumes = local_world(tmp_path)
    with popen_launch(tmp_path, config, volumes) as proc:
        proc.stdout.readline()
        proc.stdout.close()  # the reader is gone: every later write to the pipe fails
        assert proc.wait(timeout=300) == 0
    state = run_state(tmp_path)
    assert state["status"] == "Succeeded"
    (log,) = (tmp_path / "runs").glob("*/logs/index-0-attempt-1.log")
    assert "finished: steps=4" in log.read_text()


def trainer_pids(config) -> list[int]:
    """Processes whose command line names this config (the trainers, in sessions of their own)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"trainer" in args and any(str(config.parent).encode() in a for a in args):
            pids.append(int(cmdline.parent.name))
    return pids


def test_a_second_ctrl_c_while_stopping_still_stops_every_index_and_records_the_outcome(tmp_path):
    config, volumes = local_world(tmp_path, train={"max_steps": 100000, "epochs": 100000},
                                  job={"grace_period_seconds": 30})
    with popen_launch(tmp_path, config, volumes) as proc:
        wait_for_a_checkpoint(proc, tmp_path)
        proc.send_signal(signal.SIGINT)
        for line in proc.stdout:  # wait until the graceful stop is under way, then press Ctrl-C again
            if "interrupted: stopping every index" in line:
                proc.send_signal(signal.SIGINT)
                break
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-2000:]
    assert "still stopping" in out
    state = run_state(tmp_path)
    assert state["status"] == "Cancelled" and state["history"][-1]["exit_code"] == 75
    assert trainer_pids(config) == []


def test_a_ctrl_c_that_lands_while_the_echo_is_busy_still_gets_its_notice():
    """The second Ctrl-C's notice must not wait, inside the signal handler, for the lock the interrupted
    main thread holds (that deadlock hung the run: the pods were never stopped)."""
    import io
    import os
    import signal
    import time

    from launcher.local.echo import Echo
    from launcher.local.supervisor import uninterruptible

    stream = io.StringIO()
    echo = Echo(stream)
    with uninterruptible(lambda: echo.line("still stopping")):
        with echo.lock:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler runs here, on the main thread, while it holds the lock
        for _ in range(50):
            if stream.getvalue():
                break
            time.sleep(0.1)
    assert stream.getvalue() == "still stopping\n"


def test_running_a_failed_run_again_gives_the_new_run_of_the_job_its_own_backoff_limit(tmp_path):
    """As `launch resume` submits a new Job on a cluster: a rerun keeps the history but counts its crashes
    afresh, so one crash within backoffLimit is retried, not the end of the run (tests/job_outcomes.py)."""
    import io
    import sys

    from launcher.local.echo import Echo
    from launcher.local.pod import LocalPod
    from launcher.local.state import RunState
    from launcher.local.supervisor import Supervisor

    def run_of_the_job(scenario: str, state: RunState) -> RunState:
        attempts = tmp_path / scenario  # the fake trainer's own attempt counters, one folder per script
        attempts.mkdir()
        pod = LocalPod(command=[sys.executable, "-m", "tests.fake_trainer"], completions=1, backoff_limit=1,
                       env={"SCENARIO": scenario, "ATTEMPTS_DIR": str(attempts)}, grace_seconds=10,
                       deadline_seconds=None)
        Supervisor(pod, tmp_path, state, [], Echo(io.StringIO()), backoff_base=0.05).run()
        return RunState.load(tmp_path)

    first = run_of_the_job("crashes beyond backoffLimit fail the Job", RunState("run", "hash"))
    assert (first.status, first.reason) == ("Failed", "BackoffLimitExceeded: 2 crash(es), backoffLimit 1")
    again = run_of_the_job("a crash within backoffLimit is retried", first)
    assert (again.status, again.failures, again.attempts) == ("Succeeded", 3, 4)
    assert [(h["job_run"], h["attempt"], h["exit_code"]) for h in again.history] == \
        [(1, 1, 1), (1, 2, 1), (2, 3, 1), (2, 4, 0)]
