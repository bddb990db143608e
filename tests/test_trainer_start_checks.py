"""Issue 10, the trainer's half: what it can know is wrong before training stops it at start with exit 2 and
one line (examples 2, 8, 9), and a local run checks its files before any process starts (example 12)."""

import json
import struct
from pathlib import Path

import pytest
import torch
import yaml

from launcher.local.preflight import grace_warning
from launcher.schema import EXIT_BAD_CONFIG
from launcher.schema.contract import TRAINING_STARTED
from tests.factory import make_experiment, run_launch
from tests.trainer_env import run_trainer, trainer_config, write_dataset
from trainer.checkpoints.manifest import MANIFEST, Manifest, digest, step_dir
from trainer.checkpoints.state import to_bytes
from trainer.checkpoints.uri import open_store
from trainer.env import Cluster
from trainer.records import DataError
from trainer.run import _limit_threads, load_resume_point, slow_precision


def cluster(nproc: int = 1) -> Cluster:
    return Cluster(node_rank=0, nnodes=1, nproc_per_node=nproc, master_addr="127.0.0.1", master_port=29500,
                   run_id="run", checkpoint_uri="/tmp")


# Example 2: "500m" crashed the trainer's float(); the schema's parser serves both halves.
@pytest.mark.parametrize("cpu, nproc, threads", [("500m", 1, 1), ("1500m", 1, 1), ("2", 2, 1), ("2.5", 1, 2)])
def test_every_cpu_quantity_sizes_the_thread_pool(monkeypatch, cpu, nproc, threads):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    before = torch.get_num_threads()
    try:
        _limit_threads(make_experiment(resources={"cpu": cpu}), cluster(nproc))
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("native, precision, warned", [(True, "bf16-mixed", False), (False, "bf16-mixed", True),
                                                       (False, "32", False)])
def test_bf16_on_a_cpu_without_native_bfloat16_is_a_warning(monkeypatch, native, precision, warned):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: native)
    message = slow_precision(make_experiment(train={"precision": precision}))
    assert message == ("train.precision is bf16-mixed but this CPU has no native bfloat16: it runs slower than "
                       "--set train.precision=32" if warned else None)


def test_a_trainer_given_millicores_trains_to_the_end(tmp_path):
    config = trainer_config(tmp_path, resources={"cpu": "500m"}, train={"max_steps": 1})
    ((proc, out, err),) = run_trainer(config)
    assert proc.returncode == 0, err
    assert out.splitlines()[-1].startswith("finished: steps=1")


def commit_checkpoint(root, world_size: int, step: int = 4) -> str:
    """A verified checkpoint written by `world_size` ranks, as the writer commits it: files, then the manifest."""
    store = open_store(str(root), "run")
    files = {"trainer.pt": b"trainer", **{f"rank-{r}.pt": to_bytes({"rank": r}) for r in range(world_size)}}
    for name, data in files.items():
        store.write(step_dir(step), name, data)
    manifest = Manifest(step=step, epoch=0, created=0.0, world_size=world_size,
                        files={name: digest(data) for name, data in files.items()})
    store.commit(step_dir(step), MANIFEST, manifest.to_json())
    return store.location(step_dir(step))


# Example 8: a checkpoint from another world size stops the run with exit 2 and the fix.
def test_resuming_with_fewer_processes_exits_2_with_one_line(tmp_path):
    config = trainer_config(tmp_path)
    folder = commit_checkpoint(tmp_path / "ckpt", world_size=2)
    ((proc, _, err),) = run_trainer(config)
    assert proc.returncode == EXIT_BAD_CONFIG
    assert err.splitlines()[-1] == (
        f"error: resources: checkpoint step 4 in {folder} was written by 2 processes and this run has 1; run it "
        "with the nodes and GPUs it started with, or start afresh under another --run-id")
    assert (Path(folder) / MANIFEST).is_file()  # nothing was reclaimed or pruned


def test_resuming_with_more_processes_is_the_same_error(tmp_path):
    folder = commit_checkpoint(tmp_path, world_size=1)
    with pytest.raises(DataError) as raised:
        load_resume_point(open_store(str(tmp_path), "run"), rank=1, world_size=2, log=print)
    assert str(raised.value) == (
        f"resources: checkpoint step 4 in {folder} was written by 1 processes and this run has 2; run it with "
        "the nodes and GPUs it started with, or start afresh under another --run-id")


def test_resuming_with_the_same_world_size_loads_this_ranks_state(tmp_path):
    commit_checkpoint(tmp_path, world_size=2)
    resume = load_resume_point(open_store(str(tmp_path), "run"), rank=1, world_size=2, log=print)
    assert (resume.step, resume.trainer_state, resume.rank_state) == (4, b"trainer", {"rank": 1})


# Example 9: a sequence length beyond the model's positions stops the run at start with exit 2.
def test_max_seq_len_beyond_the_models_positions_exits_2_with_one_line(tmp_path):
    config = trainer_config(tmp_path, model={"max_seq_len": 1024, "random_init": None})
    ((proc, out, err),) = run_trainer(config)
    assert proc.returncode == EXIT_BAD_CONFIG
    model_dir = f"{yaml.safe_load(config.read_text())['storage']['model']['mount']}/all-MiniLM-L6-v2"
    assert err.splitlines()[-1] == (
        f"error: model.max_seq_len: 1024, but {model_dir} takes at most 512 tokens (max_position_embeddings); "
        "set model.max_seq_len to 512 or less")
    assert TRAINING_STARTED not in out


# Example 12: a local run checks the files it can see before any process starts.
def local_config(tmp_path, write_config, **data) -> str:
    raw = {"name": "local", "model": {"path": "tiny", "random_init": {}},
           "data": {"train": "train.jsonl", "validation": "validation.jsonl", **data},
           "resources": {"nodes": 2, "cpu": "1", "memory": "2Gi"},
           "storage": {"dataset": {"claim": "datasets", "mount": "/mnt/data"},
                       "model": {"claim": "models", "mount": "/mnt/models"}, "checkpoints": {"claim": "ckpt"}}}
    return str(write_config(raw))


def test_a_missing_data_file_fails_a_local_run_before_any_process_starts(tmp_path, write_config):
    volumes = tmp_path / "volumes"
    write_dataset(volumes / "datasets")
    (volumes / "models" / "tiny").mkdir(parents=True)
    config = local_config(tmp_path, write_config, test="reviews/test.jsonl")
    result = run_launch("train", config, "--local", "--volumes-root", str(volumes),
                        "--runs-root", str(tmp_path / "runs"))
    assert (result.returncode, result.stderr) == (2, (
        f"error: data.test: reviews/test.jsonl is not in the dataset claim 'datasets' (no file {volumes}/datasets/"
        "reviews/test.jsonl); put it there or map the claim with --volume datasets=FOLDER\n"))
    assert not (tmp_path / "runs").exists()  # no run folder: no process was started


def test_a_missing_model_folder_fails_a_local_run_before_any_process_starts(tmp_path, write_config):
    volumes = tmp_path / "volumes"
    write_dataset(volumes / "datasets")
    result = run_launch("train", local_config(tmp_path, write_config), "--local", "--volumes-root", str(volumes),
                        "--runs-root", str(tmp_path / "runs"))
    assert (result.returncode, result.stderr) == (2, (
        f"error: model.path: tiny is not in the model claim 'models' (no folder {volumes}/models/tiny); put it "
        "there or map the claim with --volume models=FOLDER\n"))
    assert not (tmp_path / "runs").exists()


def write_safetensors_header(path, shapes: dict[str, list[int]]) -> None:
    """A safetensors file's header alone: enough for a parameter count, which reads nothing else."""
    header = json.dumps({name: {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}
                         for name, shape in shapes.items()}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)


def test_a_grace_period_too_short_for_the_models_checkpoint_warns(tmp_path):
    model = tmp_path / "big"
    model.mkdir()
    write_safetensors_header(model / "model.safetensors", {"embeddings": [30522, 1024], "layers": [24, 1024, 12288]})
    exp = make_experiment(model={"path": "big"}, scheduling={"spot": "gke"},
                          storage={"model": {"claim": "models", "mount": str(tmp_path)}})
    assert grace_warning(exp) == (
        "job.grace_period_seconds: 15 s, but a checkpoint of big (333 M parameters with AdamW state: about 3.7 GiB) "
        "takes about 38 s at 100 MiB/s: a preemption may be cut off before it commits (raise "
        "job.grace_period_seconds to at least 48)")
    roomy = exp.model_copy(update={"job": exp.job.model_copy(update={"grace_period_seconds": 60})})
    assert grace_warning(roomy) is None
