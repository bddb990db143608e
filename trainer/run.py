"""One training run from config to saved model: load, train, evaluate, save. Rank 0 reports."""

import hashlib
import json
import logging
import os
import time
import warnings
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.strategies import DDPStrategy, FSDPStrategy
from transformers.utils import logging as transformers_logging

from launcher.schema import Experiment

from .data import ReviewsData
from .env import Cluster
from .model import Classifier, build_network
from .preemption import StopOnSignal
from .records import DataError

COLLECTIVE_TIMEOUT = timedelta(minutes=5)  # a rank that lost a peer gives up in bounded time


def phase(cluster: Cluster, message: str) -> None:
    """One clear line per phase, from the first process only."""
    if _global_rank(cluster) == 0:
        print(f"[{cluster.run_id}] {message}", flush=True)


def train(exp: Experiment, cluster: Cluster) -> dict:
    """Fine-tune, test, save the final model; returns the metrics written to metrics.json."""
    _quiet_lightning()
    pl.seed_everything(exp.train.seed, workers=True, verbose=False)
    _limit_threads(exp, cluster)
    phase(cluster, f"loading tokenizer, data and model ({exp.model.path})")
    model_dir = Path(exp.storage.model.mount) / exp.model.path
    tokenizer = _tokenizer(model_dir)
    data = ReviewsData(exp, tokenizer, rank=_global_rank(cluster), world_size=cluster.world_size)
    data.prepare()
    network = build_network(exp, model_dir, data.label_names, tokenizer.vocab_size)
    module = Classifier(network, exp, len(data.label_names))
    stop = StopOnSignal()
    trainer = _lightning_trainer(exp, cluster, [stop])
    phase(cluster, f"training on {cluster.world_size} process(es): {len(data.splits['train'])} examples")
    started = time.perf_counter()
    trainer.fit(module, datamodule=data)
    stop.raise_if_stopped()
    seconds = time.perf_counter() - started
    metrics = {"steps": trainer.global_step, "train_seconds": round(seconds, 2),
               "samples_per_second": round(_samples_seen(exp, trainer, cluster) / seconds, 2)}
    if "test" in data.splits:
        phase(cluster, "evaluating on the test split")
        metrics |= {k: round(float(v), 4) for k, v in trainer.test(module, datamodule=data, verbose=False)[0].items()}
    metrics["weights_sha256_per_rank"] = _weights_digests(network, exp)
    if trainer.is_global_zero:
        phase(cluster, f"saving the final model to {final_dir(cluster)}")
        save_final(network, tokenizer, metrics, final_dir(cluster))
    return metrics


def run_dir(cluster: Cluster) -> Path:
    return Path(cluster.checkpoint_uri) / cluster.run_id


def final_dir(cluster: Cluster) -> Path:
    return run_dir(cluster) / "final"


def save_final(network, tokenizer, metrics: dict, out: Path) -> None:
    """Hugging Face format (weights, config with the label map, tokenizer) plus metrics.json."""
    out.mkdir(parents=True, exist_ok=True)
    network.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


def _lightning_trainer(exp: Experiment, cluster: Cluster, callbacks: list[pl.Callback]) -> pl.Trainer:
    logs = run_dir(cluster) / "logs"
    return pl.Trainer(
        accelerator="gpu" if exp.resources.gpu.count else "cpu",
        devices=cluster.nproc_per_node,
        num_nodes=cluster.nnodes,
        strategy=_strategy(exp, cluster),
        precision=exp.train.precision,
        max_epochs=exp.train.epochs,
        max_steps=exp.train.max_steps or -1,
        accumulate_grad_batches=exp.train.grad_accumulation,
        log_every_n_steps=exp.train.log_every_n_steps,
        logger=[CSVLogger(logs, name="csv", version=""), TensorBoardLogger(logs, name="tensorboard", version="")],
        callbacks=[TQDMProgressBar(refresh_rate=max(1, exp.train.log_every_n_steps // 2)), *callbacks],
        enable_checkpointing=False,  # checkpoints are ours: verified, atomic, resumable mid-epoch
        use_distributed_sampler=False,  # ReviewsData shards with a resumable sampler
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )


def _strategy(exp: Experiment, cluster: Cluster):
    if cluster.world_size == 1:
        return "auto"
    backend = "nccl" if exp.resources.gpu.count else "gloo"
    if exp.train.strategy == "fsdp":  # GPUs only: the config schema rejects fsdp on CPU
        return FSDPStrategy(process_group_backend=backend, timeout=COLLECTIVE_TIMEOUT)
    return DDPStrategy(process_group_backend=backend, timeout=COLLECTIVE_TIMEOUT)


def _tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    if not (model_dir / "tokenizer_config.json").is_file() and not (model_dir / "tokenizer.json").is_file():
        raise DataError(f"model.path: {model_dir}: no tokenizer there (expected a Hugging Face model folder)")
    return AutoTokenizer.from_pretrained(model_dir)


def _weights_digests(network, exp: Experiment) -> list[str]:
    """sha256 of the weights on every rank: replicas that drifted apart show up in metrics.json."""
    digest = hashlib.sha256()
    for tensor in network.state_dict().values():
        digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    if not torch.distributed.is_initialized() or exp.train.strategy == "fsdp":  # FSDP ranks hold shards
        return [digest.hexdigest()]
    gathered = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, digest.hexdigest())
    return gathered


def _limit_threads(exp: Experiment, cluster: Cluster) -> None:
    """Share the pod's CPU limit among its processes instead of oversubscribing every core."""
    threads = min(max(1, int(float(exp.resources.cpu)) // cluster.nproc_per_node), os.cpu_count() or 1)
    torch.set_num_threads(threads)
    # Lightning's DDP setup resets the thread count to cpu_count // local processes unless this is set,
    # which ignores the pod's CPU limit (lightning_fabric.utilities.distributed._set_num_threads_if_needed).
    os.environ["OMP_NUM_THREADS"] = str(threads)


def _quiet_lightning() -> None:
    """Lightning announces GPUs, TPUs and tips on every start; keep warnings and errors only."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    transformers_logging.disable_progress_bar()  # "Loading weights" bars, one per process
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")


def _global_rank(cluster: Cluster) -> int:
    return cluster.node_rank * cluster.nproc_per_node + int(os.environ.get("LOCAL_RANK", 0))


def _samples_seen(exp: Experiment, trainer: pl.Trainer, cluster: Cluster) -> int:
    return trainer.global_step * exp.train.batch_size * exp.train.grad_accumulation * cluster.world_size
