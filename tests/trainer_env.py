"""A tiny world for trainer tests: a dataset volume, a model volume with the MiniLM tokenizer, a config."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import yaml

from launcher.local.demo_data import install_minilm
from tests.factory import ROOT, raw_config

GOOD = ["great taste", "love it", "excellent coffee", "would buy again", "delicious snack", "perfect"]
BAD = ["stale and bland", "waste of money", "arrived broken", "tastes awful", "never again", "too salty"]


def write_dataset(root: Path, rows: int = 64, seed: int = 0, test_rows: int | None = None) -> None:
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        with open(root / f"{split}.jsonl", "w") as fh:
            for _ in range(test_rows if split == "test" and test_rows else rows):
                label = rng.choice(["great", "other"])
                words = rng.choice(GOOD if label == "great" else BAD)
                fh.write(json.dumps({"text": f"{words} {rng.randint(0, 99)}", "label": label}) + "\n")


_MINILM: dict[str, Path] = {}


def model_volume(tmp: Path) -> Path:
    """The MiniLM folder, copied once per session (tests only read its tokenizer)."""
    if "path" not in _MINILM:
        _MINILM["path"] = install_minilm(tmp / "models" / "all-MiniLM-L6-v2").parent
    return _MINILM["path"]


def trainer_config(tmp: Path, **sections) -> Path:
    """A tiny random-BERT experiment over `tmp`'s volumes, written as the trainer reads it."""
    write_dataset(tmp / "data")
    base = raw_config(
        model={"path": "all-MiniLM-L6-v2", "max_seq_len": 16,
               "random_init": {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "intermediate_size": 32}},
        data={"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl", "num_workers": 0},
        train={"batch_size": 8, "max_steps": 4, "lr": 1e-3, "log_every_n_steps": 1},
        storage={"dataset": {"claim": "data", "mount": str(tmp / "data")},
                 "model": {"claim": "models", "mount": str(model_volume(tmp.parent))},
                 "checkpoints": {"claim": "ckpt", "mount": str(tmp / "ckpt")}},
        resources={"cpu": "1"},
    )
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(base))
    return path


def run_trainer(config: Path, nodes: int = 1, port: int = 29611, timeout: int = 180, **env) -> list:
    """Start one `python -m trainer` per node with the environment contract; wait for all."""
    raw = yaml.safe_load(config.read_text())["storage"]["checkpoints"]
    ckpt = raw.get("uri") or raw["mount"]
    procs = []
    for rank in range(nodes):
        contract = {"NODE_RANK": str(rank), "NNODES": str(nodes), "NPROC_PER_NODE": "1",
                    "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RUN_ID": "run",
                    "CHECKPOINT_URI": ckpt, **env}
        procs.append(subprocess.Popen([sys.executable, "-m", "trainer", "--config", str(config)], cwd=ROOT,
                                      env={**os.environ, **contract}, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return [(p, *p.communicate(timeout=timeout)) for p in procs]
