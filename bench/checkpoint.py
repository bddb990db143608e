"""Checkpoint costs, measured side by side in one run (docs/benchmarks.md):

1. SIGTERM-to-committed: our save (serialise and sha256 in one pass, fsync or upload, manifest commit)
   against a plain torch.save + fsync (folder) or a plain upload (S3, moto server on 127.0.0.1) of the
   same MiniLM+AdamW state. Goal: median of per-round ratios <= 1.1.
2. Periodic checkpoints in real training (Lightning, our callback, the quickstart model, 1 process): the
   time each save blocks the step loop (the snapshot), and the whole cost of a save (blocking, plus what
   the background write takes from the steps it overlaps: the same steps timed without checkpoints,
   rounds alternating), spread over the default interval (every 100 steps). Goal <= 3%.
3. Steps lost per SIGTERM preemption: the smoke run with two drills; lost = stop step - resume step. Goal 0.

Usage: .venv/bin/python bench/checkpoint.py [--rounds 15] [--train-rounds 2] [--only sigterm|periodic|lost]   (needs `make quickstart` data)
"""

import argparse
import io
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from launcher.config.loading import load_run
from launcher.schema.models import Checkpoint
from trainer.checkpoints.s3 import S3Store
from trainer.checkpoints.state import TorchFile, to_bytes
from trainer.checkpoints.store import LocalStore
from trainer.checkpoints.writer import CheckpointWriter

sys.path.insert(0, str(Path(__file__).parent))
from train_step import batches, lightning_steps, model_dir  # noqa: E402


def minilm_state(exp) -> dict:
    """Lightning's full checkpoint dict of the quickstart model after one AdamW step."""
    import pytorch_lightning as pl
    from transformers import AutoTokenizer

    from trainer.model import Classifier, build_network
    from trainer.run import _quiet_lightning

    _quiet_lightning()
    data = batches(exp, AutoTokenizer.from_pretrained(model_dir(exp)), 1)
    module = Classifier(build_network(exp, model_dir(exp), ["great", "other"], 0), exp, 2, 10)
    trainer = pl.Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(data, batch_size=None))
    return trainer._checkpoint_connector.dump_checkpoint()


def ours(store, state: dict, step: int) -> float:
    """What PreemptionSafe does on SIGTERM: the live state (no snapshot) to the writer, then wait for the
    commit: serialise and hash into staging, publish, commit the manifest."""
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=2, log=lambda m: None)
    started = time.monotonic()
    objects = {"trainer.pt": state, "rank-0.pt": {"rng": torch.get_rng_state()}}
    writer.submit(step, 0, {name: TorchFile(obj) for name, obj in objects.items()}, started)
    writer.flush()
    return time.monotonic() - started


def plain_file(folder: Path, state: dict, step: int) -> float:
    started = time.monotonic()
    path = folder / f"plain-{step}.pt"
    with open(path, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    seconds = time.monotonic() - started
    path.unlink()
    return seconds


def plain_upload(store: S3Store, state: dict, step: int) -> float:
    started = time.monotonic()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    store.client.upload_fileobj(buffer, store.bucket, f"plain/{step}.pt")
    return time.monotonic() - started


def sigterm_to_commit(state: dict, rounds: int) -> dict:
    out = {"state_mib": round(len(to_bytes(state)) / 2**20, 1)}  # noqa: the size, not the save
    with tempfile.TemporaryDirectory() as tmp:
        local = LocalStore(Path(tmp) / "ckpt")
        times = [_pair(lambda: ours(local, state, i), lambda: plain_file(Path(tmp), state, i), i)
                 for i in range(rounds)]
        out["folder"] = _ratio(times)
        out["s3"] = _ratio(_s3_rounds(state, rounds))
    return out


def _pair(first, second, i: int) -> tuple[float, float]:
    """Both sides of one round, in alternating order so neither always runs on a warmer machine."""
    if i % 2:
        b = second()
        return first(), b
    return first(), second()


def _s3_rounds(state: dict, rounds: int) -> list[tuple[float, float]]:
    """Against moto's server in its own process, so it does not share this process's GIL."""
    import boto3

    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"})
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", "5917"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = boto3.client("s3", endpoint_url="http://127.0.0.1:5917")
        for _ in range(100):  # wait for it to listen
            try:
                client.create_bucket(Bucket="bench")
                break
            except Exception:
                time.sleep(0.1)
        store = S3Store(client, "bench", "run/checkpoints")
        return [_pair(lambda: ours(store, state, i), lambda: plain_upload(store, state, i), i) for i in range(rounds)]
    finally:
        server.terminate()
        server.wait()


def _ratio(times: list[tuple[float, float]]) -> dict:
    """Medians of each side, and the median of the per-round ratios (each round's pair ran back to back)."""
    ratios = sorted(o / p for o, p in times)
    return {"ours_s": round(statistics.median(t[0] for t in times), 3),
            "plain_s": round(statistics.median(t[1] for t in times), 3),
            "ratio": round(statistics.median(ratios), 3), "ratio_range": [round(ratios[0], 2), round(ratios[-1], 2)]}


def periodic_slowdown(exp, rounds: int, steps: int = 40, every: int = 10) -> dict:
    """Real training with a checkpoint every `every` steps against the same steps without, alternating."""
    from transformers import AutoTokenizer

    interval = Checkpoint().every_n_steps  # the schema's default, whatever the quickstart sets
    data = batches(exp, AutoTokenizer.from_pretrained(model_dir(exp)), steps)
    saving, plain, blocked = [], [], []
    for _ in range(rounds):
        times, _ = _train(exp, data, every=0)
        plain.append(sum(times[every:]))  # the first interval warms up allocators: left out of both sides
        times, safe = _train(exp, data, every=every)
        saving.append(sum(times[every:]))
        blocked += safe.blocked
    saves = (steps - every) // every
    step_s = statistics.median(plain) / (steps - every)
    cost_s = statistics.median(s - p for s, p in zip(saving, plain)) / saves
    return {"interval_steps": interval, "step_s": round(step_s, 3),
            "blocking_first_save_s": round(blocked[0], 3),
            "blocking_per_save_s": round(statistics.median(blocked[1:]), 3),
            "cost_per_save_s": round(cost_s, 3),
            "slowdown_pct": round(100 * max(cost_s, 0) / (interval * step_s), 2)}


def _train(exp, data: list[dict], every: int):
    """Step times of one Lightning run over `data` with the trainer's own callback (a checkpoint every
    `every` steps; 0: none), and that callback."""
    from types import SimpleNamespace

    from train_step import StepClock

    from trainer.env import Cluster
    from trainer.logs import RunLogs
    from trainer.model import Classifier, build_network
    from trainer.preemption import PreemptionSafe
    from trainer.run import _lightning_trainer
    from trainer.signals import StopFlag

    torch.manual_seed(exp.train.seed)
    exp = exp.model_copy(update={"train": exp.train.model_copy(update={"max_steps": len(data)}),
                                 "checkpoint": exp.checkpoint.model_copy(update={"every_n_steps": every})})
    module = Classifier(build_network(exp, model_dir(exp), ["great", "other"], 0), exp, 2, len(data))
    with tempfile.TemporaryDirectory() as root:
        cluster = Cluster(0, 1, 1, "127.0.0.1", 29500, "bench", root)
        writer = CheckpointWriter(LocalStore(Path(root) / "ckpt"), 0, 1, 2, log=lambda m: None)
        logs = RunLogs(cluster, 0, print)
        safe = PreemptionSafe(exp, StopFlag(), writer, SimpleNamespace(offset=0), None, print, logs)
        clock = StepClock()
        trainer = _lightning_trainer(exp, cluster, [clock, safe], logs)
        trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(data, batch_size=None))
        clock.starts.append(time.perf_counter())
        writer.drain()
    return [b - a for a, b in zip(clock.starts, clock.starts[1:])], safe


def steps_lost() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([sys.executable, "-m", "launcher", "train", "configs/smoke.yaml", "--local",
                                 "--run-id", "bench-lost", "--runs-root", f"{tmp}/runs",
                                 "--volume", f"checkpoints={tmp}/ckpt", "--preempt-after", "0.5",
                                 "--preempt-after", "1.0"], capture_output=True, text=True)
    stops = [int(s) for s in re.findall(r"stopped at step (\d+) on SIGTERM", result.stdout)][::2]
    resumes = [int(s) for s in re.findall(r"training from step (\d+) of", result.stdout)][1:]
    return {"preemptions": len(stops), "lost_steps": [s - r for s, r in zip(stops, resumes)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--train-rounds", type=int, default=2)
    parser.add_argument("--only", choices=["sigterm", "periodic", "lost"], action="append",
                        help="measure only these (repeatable; default: all three)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    logging.getLogger("transformers").setLevel(logging.ERROR)
    exp = load_run(Path("configs/quickstart.yaml")).experiment
    parts = args.only or ["sigterm", "periodic", "lost"]
    report = {}
    if "sigterm" in parts:
        report["sigterm_to_committed"] = sigterm_to_commit(minilm_state(exp), args.rounds)
    if "periodic" in parts:
        report["periodic"] = periodic_slowdown(exp, args.train_rounds)
    if "lost" in parts:
        report["steps_lost"] = steps_lost()
    print(yaml.safe_dump(report, sort_keys=False), end="")


if __name__ == "__main__":
    main()
