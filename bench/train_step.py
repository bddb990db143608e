"""Per-step time of the trainer (Lightning, our callbacks and logging) against a plain PyTorch loop.

Same model (the quickstart's MiniLM), same batches, same AdamW and schedule, same precision (the config's),
one process, on this CPU.
Rounds alternate Lightning and plain, so machine noise hits both; the ratio of medians is the result.

Usage: .venv/bin/python bench/train_step.py [--steps 12] [--rounds 3]   (needs `make quickstart` data)
Goal: ratio <= 1.10.
"""

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytorch_lightning as pl
import torch
import yaml

from launcher.config.loading import load_run
from trainer.checkpoints.store import LocalStore
from trainer.checkpoints.writer import CheckpointWriter
from trainer.data import Collate
from trainer.env import Cluster
from trainer.logs import RunLogs
from trainer.model import Classifier, build_network
from trainer.preemption import PreemptionSafe
from trainer.records import read_records
from trainer.run import _lightning_trainer, _quiet_lightning
from trainer.signals import StopFlag


class StepClock(pl.Callback):
    def __init__(self):
        self.starts: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.starts.append(time.perf_counter())


def batches(exp, tokenizer, count: int) -> list[dict]:
    rows = read_records(Path("volumes/datasets") / exp.data.train, "jsonl", "text", "label", "data.train")
    labels = {"great": 0, "other": 1}
    size = exp.train.batch_size
    collate = Collate(tokenizer.pad_token_id)
    out = []
    for i in range(count):
        chunk = rows[i * size:(i + 1) * size]
        ids = tokenizer([t for t, _ in chunk], truncation=True, max_length=exp.model.max_seq_len)["input_ids"]
        out.append(collate([(x, labels[y]) for x, (_, y) in zip(ids, chunk)]))
    return out


def plain_steps(exp, data: list[dict]) -> list[float]:
    torch.manual_seed(exp.train.seed)
    module = Classifier(build_network(exp, model_dir(exp), ["great", "other"], 0), exp, 2, len(data))
    config = module.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=exp.train.precision == "bf16-mixed")
    starts = []
    for batch in data:
        starts.append(time.perf_counter())
        with autocast:  # what Lightning's precision plugin wraps around the training step
            loss = torch.nn.functional.cross_entropy(module(batch), batch["labels"])
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    starts.append(time.perf_counter())
    return [b - a for a, b in zip(starts, starts[1:])]


def lightning_steps(exp, data: list[dict], root: str) -> list[float]:
    torch.manual_seed(exp.train.seed)
    module = Classifier(build_network(exp, model_dir(exp), ["great", "other"], 0), exp, 2, len(data))
    clock = StepClock()
    cluster = Cluster(0, 1, 1, "127.0.0.1", 29500, "bench", root)
    # The trainer's own callback rides along (signal agreement, checkpoint triggers); no save falls due.
    writer = CheckpointWriter(LocalStore(Path(root) / "ckpt"), 0, 1, 1, log=print)
    logs = RunLogs(cluster, 0, print)
    safe = PreemptionSafe(exp, StopFlag(), writer, SimpleNamespace(offset=0), None, print, logs)
    trainer = _lightning_trainer(exp.model_copy(update={"train": exp.train.model_copy(
        update={"max_steps": len(data)})}), cluster, [clock, safe], logs)
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(data, batch_size=None))
    clock.starts.append(time.perf_counter())
    return [b - a for a, b in zip(clock.starts, clock.starts[1:])]


def model_dir(exp) -> Path:
    return Path("volumes/models") / exp.model.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    _quiet_lightning()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    exp = load_run(Path("configs/quickstart.yaml")).experiment
    torch.set_num_threads(2)
    from transformers import AutoTokenizer
    data = batches(exp, AutoTokenizer.from_pretrained(model_dir(exp)), args.steps)
    plain, lightning = [], []
    with tempfile.TemporaryDirectory() as root:
        for _ in range(args.rounds):
            lightning += lightning_steps(exp, data, root)[2:]  # the first steps warm up allocators
            plain += plain_steps(exp, data)[2:]
    result = {"plain_ms": round(statistics.median(plain) * 1000, 1),
              "trainer_ms": round(statistics.median(lightning) * 1000, 1),
              "ratio": round(statistics.median(lightning) / statistics.median(plain), 3),
              "steps_per_side": len(plain), "batch_size": exp.train.batch_size,
              "max_seq_len": exp.model.max_seq_len}
    print(yaml.safe_dump(result, sort_keys=False), end="")


if __name__ == "__main__":
    main()
