"""A run's metrics across attempts: the resumed attempt keeps every logged step of the earlier ones, in
metrics.csv and in TensorBoard, once each, on a volume and on S3."""

import csv
import io
import json
import re
import signal
import time
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from launcher.schema.contract import STEP_LINE
from tests.test_preemption_windows import signal_when
from tests.test_resume import start_gang
from tests.trainer_env import run_trainer, trainer_config
from tests.watch import wait_for_line, watch

STAMPED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[run\] .+")

# 64 rows in batches of 8: 8 optimizer steps in the epoch, logged at Lightning's log steps 0..7.
EIGHT_STEPS = {"train": {"max_steps": 8, "epochs": 20, "batch_size": 8, "log_every_n_steps": 1},
               "checkpoint": {"every_n_steps": 3}}
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def interrupt_then_finish(config: Path, how: int, env: dict, pause: float = 0.0) -> dict:
    """Signal the run once it reported step 5, wait `pause` seconds, then run it again to the end; returns
    both attempts' output and when the second was started and ended (time.time())."""
    (proc,) = start_gang(config, 1, 29571, env)
    lines = signal_when(proc, "reached step 5", how)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == (75 if how == signal.SIGTERM else -signal.SIGKILL), err[-2000:]
    time.sleep(pause)
    started = time.time()
    ((again, out2, err2),) = run_trainer(config, port=29572, **env)
    assert again.returncode == 0, err2[-2000:]
    return {"first": ("".join(lines) + out, err), "second": (out2, err2), "started": started, "ended": time.time()}


@pytest.fixture(scope="module")
def sigtermed(tmp_path_factory):
    """A run on a volume preempted (SIGTERM) after step 5, resumed 3 s later and finished."""
    config = trainer_config(tmp_path_factory.mktemp("sigtermed"), **EIGHT_STEPS)
    return config, interrupt_then_finish(config, signal.SIGTERM, {}, pause=3.0)


def train_losses_in_csv(text: str) -> list[tuple[int, str]]:
    return [(int(row["step"]), row["train_loss"]) for row in csv.DictReader(io.StringIO(text)) if row["train_loss"]]


def train_losses_in_tensorboard(folder: Path) -> list[tuple[int, float]]:
    events = EventAccumulator(str(folder))  # reads every attempt's file, honouring each file's purge step
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars("train_loss")]


def assert_every_step_once(csv_text: str, tensorboard: Path, steps: int = 8) -> None:
    rows = train_losses_in_csv(csv_text)
    assert [step for step, _ in rows] == list(range(steps))
    points = train_losses_in_tensorboard(tensorboard)
    assert [step for step, _ in points] == list(range(steps))
    assert [round(value, 5) for _, value in points] == [round(float(loss), 5) for _, loss in rows]


def test_a_preempted_and_resumed_run_keeps_every_logged_step_of_both_attempts(sigtermed):
    config, run = sigtermed
    logs = config.parent / "ckpt" / "run" / "logs"
    assert "exists and is not empty" not in run["second"][1]
    assert_every_step_once((logs / "csv" / "metrics.csv").read_text(), logs / "tensorboard")
    assert len(list((logs / "tensorboard").glob("events.out.tfevents.*"))) >= 2  # one file per attempt at least


def test_a_drilled_run_prints_timestamped_plain_lines_and_no_escape_sequence(sigtermed):
    _, run = sigtermed
    for out, err in (run["first"], run["second"]):
        assert "\x1b" not in out + err and "\r" not in out + err
        lines = out.splitlines()
        assert lines and all(STAMPED.fullmatch(line) for line in lines[:-1] if line.strip()), out
    resumed = [line for line in run["second"][0].splitlines() if "reached step" in line]
    # The resumed attempt knows its epoch and total; its rate counts its own steps only.
    assert [re.search(STEP_LINE, line).group("step", "total", "epoch", "epochs") for line in resumed][-1] == \
        ("8", "8", "1", "1")


def test_a_resumed_run_reports_training_time_of_every_attempt_and_the_time_lost(sigtermed):
    config, run = sigtermed
    run_dir = config.parent / "ckpt" / "run"
    metrics = json.loads((run_dir / "final" / "metrics.json").read_text())
    resumed = metrics["resumed_from_step"]
    manifest = json.loads((run_dir / "checkpoints" / f"step-{resumed:010d}" / "manifest.json").read_text())
    earlier = torch.load(run_dir / "checkpoints" / f"step-{resumed:010d}" / "trainer.pt", weights_only=False)
    clock = earlier["callbacks"]["TrainingClock"]  # what the first attempt trained, up to its checkpoint
    assert 0 < clock["train_seconds"] and clock["lost_seconds"] == 0
    assert metrics["train_seconds"] == pytest.approx(clock["train_seconds"] + metrics["attempt_train_seconds"],
                                                     abs=0.011)
    # From the checkpoint's commit to the resumed attempt's first step: the pause, a restart, a reload.
    assert run["started"] - manifest["created"] >= 3.0
    assert run["started"] - manifest["created"] <= metrics["lost_seconds"] <= run["ended"] - manifest["created"]


def test_steps_a_hard_kill_made_the_run_replay_appear_once_with_the_newest_values(tmp_path):
    config = trainer_config(tmp_path, **EIGHT_STEPS)
    interrupt_then_finish(config, signal.SIGKILL, {})  # killed past the checkpoint of step 3: steps replayed
    logs = tmp_path / "ckpt" / "run" / "logs"
    assert_every_step_once((logs / "csv" / "metrics.csv").read_text(), logs / "tensorboard")


def test_a_preempted_two_process_gang_keeps_every_logged_step_once(tmp_path):
    """Only rank 0 touches the logs: another rank rewriting metrics.csv at start-up would tear it."""
    config = trainer_config(tmp_path, resources={"nodes": 2}, checkpoint={"every_n_steps": 3},
                            train={**EIGHT_STEPS["train"], "max_steps": 40})  # 2 ranks: 4 steps an epoch
    pods = watch(start_gang(config, 2, 29575, {}))
    wait_for_line(pods, "reached step 5")
    for pod in pods:  # a node drain: every pod's agent leaves too, instead of waiting for a replacement
        pod.proc.send_signal(signal.SIGTERM)
    assert [pod.finish(timeout=120)[0] for pod in pods] == [75, 75]
    for proc, _, err in run_trainer(config, nodes=2, port=29576):
        assert proc.returncode == 0, err[-2000:]
    logs = tmp_path / "ckpt" / "run" / "logs"
    assert_every_step_once((logs / "csv" / "metrics.csv").read_text(), logs / "tensorboard", steps=40)


def test_an_s3_run_keeps_its_logs_of_every_attempt_on_s3(tmp_path, bucket, s3_endpoint):
    client, name = bucket
    config = trainer_config(tmp_path, storage={"checkpoints": {"uri": f"s3://{name}/runs", "secret": "s3"}},
                            **EIGHT_STEPS)
    interrupt_then_finish(config, signal.SIGTERM, {"AWS_ENDPOINT_URL": s3_endpoint, **S3_ENV})
    local = tmp_path / "from-s3"
    for obj in client.list_objects_v2(Bucket=name, Prefix="runs/run/logs/")["Contents"]:
        path = local / obj["Key"].removeprefix("runs/run/logs/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(client.get_object(Bucket=name, Key=obj["Key"])["Body"].read())
    assert_every_step_once((local / "csv" / "metrics.csv").read_text(), local / "tensorboard")
