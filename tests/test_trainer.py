"""The trainer end to end on CPU: a tiny random BERT, real Lightning, real processes."""

import json
import os
import re

import pytest
import yaml

from launcher.schema import Experiment
from launcher.schema.contract import STEP_LINE
from tests.trainer_env import run_trainer, trainer_config

STAMPED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[run\] (.+)")
UMASK = os.umask(0o022)
os.umask(UMASK)


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    config = trainer_config(tmp_path_factory.mktemp("single"))
    ((proc, out, err),) = run_trainer(config)
    return config, proc, out, err


def test_one_process_trains_tests_and_saves_a_hugging_face_model(single_run):
    config, proc, out, err = single_run
    assert proc.returncode == 0, err
    final = config.parent / "ckpt" / "run" / "final"
    metrics = json.loads((final / "metrics.json").read_text())
    assert metrics["steps"] == 4
    assert 0 <= metrics["test_accuracy"] <= 1 and 0 <= metrics["test_f1"] <= 1
    assert metrics["samples_per_second"] > 0
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    model = AutoModelForSequenceClassification.from_pretrained(final)
    assert model.config.id2label == {0: "great", 1: "other"}
    assert AutoTokenizer.from_pretrained(final)("great taste")["input_ids"]


def test_one_timestamped_line_per_phase_and_a_summary(single_run):
    _, _, out, _ = single_run
    lines = [STAMPED.fullmatch(line) for line in out.splitlines()[:-1]]
    assert all(lines), out
    phases = [m.group(1) for m in lines if not m.group(1).startswith(("reached step", "validation at"))]
    assert [p.split()[0] for p in phases] == ["loading", "training", "evaluating", "saving"]
    assert out.splitlines()[-1].startswith("finished: steps=4")


def test_progress_is_plain_lines_never_a_bar(single_run):
    _, _, out, err = single_run
    steps = [re.search(STEP_LINE, line).group("step", "total", "epoch", "epochs") for line in out.splitlines()
             if "reached step" in line]
    assert steps == [(str(n), "4", "1", "1") for n in range(1, 5)]  # log_every_n_steps: 1
    assert "\x1b" not in out + err and "\r" not in out + err and "it/s" not in out + err


def test_the_experiment_travels_with_checkpoints_final_model_and_hparams(single_run):
    config, *_ = single_run
    run = config.parent / "ckpt" / "run"
    assert (run / "checkpoints" / "config.yaml").read_bytes() == config.read_bytes()
    assert (run / "final" / "config.yaml").read_bytes() == config.read_bytes()
    assert "config.yaml" in json.loads((run / "final" / "manifest.json").read_text())["files"]
    resolved = Experiment.model_validate(yaml.safe_load(config.read_text())).model_dump(mode="json")
    for hparams in (run / "logs" / "csv" / "hparams.yaml", run / "logs" / "tensorboard" / "hparams.yaml"):
        assert yaml.safe_load(hparams.read_text()) == resolved


def test_final_model_files_have_the_mode_of_checkpoint_files(single_run):
    config, *_ = single_run
    run = config.parent / "ckpt" / "run"
    (checkpoint,) = (run / "checkpoints").glob("step-*/trainer.pt")
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in (run / "final").iterdir()}
    assert modes["model.safetensors"] == oct(checkpoint.stat().st_mode & 0o777) == oct(0o666 & ~UMASK)
    assert set(modes.values()) == {oct(0o666 & ~UMASK)}


def test_an_s3_run_keeps_its_experiment_beside_checkpoints_and_in_the_final_model(tmp_path, bucket, s3_endpoint):
    client, name = bucket
    config = trainer_config(tmp_path, storage={"checkpoints": {"uri": f"s3://{name}/runs", "secret": "s3"}})
    ((proc, _, err),) = run_trainer(config, AWS_ENDPOINT_URL=s3_endpoint)
    assert proc.returncode == 0, err[-2000:]
    for key in ("runs/run/checkpoints/config.yaml", "runs/run/final/config.yaml"):
        assert client.get_object(Bucket=name, Key=key)["Body"].read() == config.read_bytes()


def test_csv_and_tensorboard_logs_land_under_the_run_folder(single_run):
    config, *_ = single_run
    logs = config.parent / "ckpt" / "run" / "logs"
    assert "train_loss" in (logs / "csv" / "metrics.csv").read_text()
    assert list((logs / "tensorboard").glob("events.out.tfevents.*"))


def test_two_process_ddp_over_gloo_ends_with_identical_weights(tmp_path):
    config = trainer_config(tmp_path, train={"max_steps": 3})
    results = run_trainer(config, nodes=2, port=29623)
    for proc, _, err in results:
        assert proc.returncode == 0, err
    metrics = json.loads((tmp_path / "ckpt" / "run" / "final" / "metrics.json").read_text())
    digests = metrics["weights_sha256_per_rank"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert metrics["steps"] == 3


def test_same_seed_same_weights(tmp_path):
    digests = []
    for attempt in ("a", "b"):
        config = trainer_config(tmp_path / attempt)
        ((proc, _, err),) = run_trainer(config)
        assert proc.returncode == 0, err
        digests.append(json.loads((tmp_path / attempt / "ckpt/run/final/metrics.json").read_text())
                       ["weights_sha256_per_rank"])
    assert digests[0] == digests[1]


def test_fsdp_on_cpu_is_a_clear_error(tmp_path):
    config = trainer_config(tmp_path, train={"strategy": "fsdp"})
    results = run_trainer(config, nodes=2, port=29631)
    for proc, _, err in results:
        assert proc.returncode == 2
        assert err.strip().splitlines()[-1] == (f"error: {config}: train.strategy: fsdp needs GPUs (Lightning runs "
                                                "FSDP on CUDA only); use ddp on CPU")



DATA_ERRORS = [
    ("missing-file", lambda d: (__import__("os").remove(f"{d}/validation.jsonl")),
     "error: data.validation: {d}/validation.jsonl: no such file"),
    ("missing-field", lambda d: open(f"{d}/train.jsonl", "a").write('{"body": "x", "label": "great"}\n'),
     "error: data.train: {d}/train.jsonl row 65: no field 'text' (fields: body, label)"),
    ("unknown-label", lambda d: open(f"{d}/test.jsonl", "a").write('{"text": "x", "label": "meh"}\n'),
     "error: data.test: {d}/test.jsonl row 65: unknown label 'meh' (training labels: great, other)"),
    ("empty-file", lambda d: open(f"{d}/train.jsonl", "w").close(),
     "error: data.train: {d}/train.jsonl: the file has no rows"),
]


@pytest.mark.parametrize("name, edit, message", DATA_ERRORS, ids=[e[0] for e in DATA_ERRORS])
def test_data_errors_are_one_line_and_exit_2(tmp_path, name, edit, message):
    config = trainer_config(tmp_path)
    data = tmp_path / "data"
    edit(data)
    ((proc, out, err),) = run_trainer(config)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1] == message.format(d=data)
    assert "Traceback" not in err


def test_bad_config_file_exits_2_with_its_path(tmp_path):
    config = trainer_config(tmp_path)
    config.write_text(config.read_text().replace("max_seq_len: 16", "max_seq_len: -1"))
    ((proc, _, err),) = run_trainer(config)
    assert proc.returncode == 2
    assert err.strip() == f"error: {config}: model.max_seq_len: Input should be greater than 0 (got -1)"


def test_gradient_accumulation_takes_one_optimizer_step_per_n_batches(tmp_path):
    config = trainer_config(tmp_path, train={"max_steps": None, "epochs": 1, "grad_accumulation": 2})
    ((proc, _, err),) = run_trainer(config)
    assert proc.returncode == 0, err[-2000:]
    metrics = json.loads((tmp_path / "ckpt" / "run" / "final" / "metrics.json").read_text())
    assert metrics["steps"] == 4  # 64 rows / batch 8 = 8 batches, 2 per step


def test_a_lost_peer_makes_the_survivor_requeue_in_bounded_time(tmp_path):
    import time

    import psutil

    from tests.test_resume import start_gang
    from tests.watch import wait_for_line, watch
    config = trainer_config(tmp_path, resources={"nodes": 2}, job={"peer_timeout_seconds": 20},
                            train={"max_steps": 100000, "epochs": 100000})
    pods = watch(start_gang(config, 2, 29661, {}))
    wait_for_line(pods, "reached step")
    root = psutil.Process(pods[1].proc.pid)
    for process in [root, *root.children(recursive=True)]:
        process.kill()  # a node vanishes without notice: its agent and its worker at once
    started = time.monotonic()
    code, output = pods[0].finish(timeout=120)
    assert code == 75, output[-2000:]
    assert "requeue: lost a peer" in output  # its worker left the collective at once ...
    assert "did not form within 20 s" in output  # ... and its agent waited for a replacement, in vain
    assert time.monotonic() - started < 60
