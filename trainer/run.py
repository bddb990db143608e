"""One training run from config to saved model: resume, train, evaluate, save. Rank 0 reports."""

import hashlib
import logging
import os
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy, FSDPStrategy
from transformers.utils import logging as transformers_logging

from launcher.schema import Experiment
from launcher.schema.contract import TRAINING_STARTED

from .checkpoints.catalog import latest_valid, reclaim_newer_than
from .checkpoints.final import EXPERIMENT, finished_metrics, save_final
from .checkpoints.manifest import step_dir
from .checkpoints.state import TRAINER_FILE, ResumePoint, from_bytes, rank_file
from .checkpoints.store import Store
from .checkpoints.uri import open_store
from .checkpoints.writer import CheckpointWriter
from .clock import TrainingClock
from .data import ReviewsData
from .env import Cluster
from .logs import RunLogs
from .model import Classifier, build_network, check_sequence_length
from .preemption import Preempted, PreemptionSafe, grace_warning, own_signals
from .progress import StepLines, stamped
from .records import DataError
from .requeue import count_requeue, requeue_if_the_gang_breaks
from .signals import StopFlag

def phase(cluster: Cluster, message: str) -> None:
    """One clear line per phase, from the first process only: `2026-11-29T15:30:01Z [RUN_ID] message`."""
    if global_rank(cluster) == 0:
        print(stamped(cluster.run_id, message), flush=True)


def train(exp: Experiment, cluster: Cluster, flag: StopFlag, config: bytes) -> dict:
    """Fine-tune (resuming from the newest valid checkpoint), test, save; returns the final metrics. `config`:
    the experiment file's bytes, kept beside the checkpoints and in the final model.

    Raises Preempted or PeerLost (requeue), RequeueLoop (give up), StoreError, DataError."""
    _quiet_lightning()
    pl.seed_everything(exp.train.seed, workers=True, verbose=False)
    _limit_threads(exp, cluster)
    if message := slow_precision(exp):
        phase(cluster, f"warning: {message}")
    store = open_store(cluster.checkpoint_uri, cluster.run_id)
    final = open_store(cluster.checkpoint_uri, cluster.run_id, area="final")
    store.check()
    if (metrics := finished_metrics(final)) is not None:
        phase(cluster, f"already finished: the final model in {final.location()} verifies; nothing to train")
        return metrics
    resume = _start_up(exp, cluster, store, final, config)
    tokenizer, data, network = _load(exp, cluster, resume)
    module = Classifier(network, exp, len(data.label_names), data.optimizer_steps())
    safe, logs, clock, steps = _callbacks(exp, cluster, flag, store, resume, data)
    trainer = own_signals(_lightning_trainer(exp, cluster, [safe, steps, clock], logs))
    try:
        metrics = _fit(trainer, module, data, resume, store, exp, cluster, flag, safe) | clock.metrics()
    finally:
        if global_rank(cluster) == 0:
            logs.sync()  # before any requeue exit: Lightning has flushed and closed TensorBoard's file
    with requeue_if_the_gang_breaks(safe, store, exp, metrics["resumed_from_step"], global_rank(cluster)):
        metrics["weights_sha256_per_rank"] = _weights_digests(network, exp)
        if "test" in data.splits:
            phase(cluster, "evaluating on the test split")
            tested = trainer.test(module, datamodule=data, verbose=False)[0]
            metrics |= {k: round(float(v), 4) for k, v in tested.items()}
    if trainer.is_global_zero:
        logs.sync()  # the test's metrics too
    if flag.requested:  # SIGTERM during the test: the last step is committed, the test runs again
        raise Preempted(trainer.global_step)
    if trainer.is_global_zero:
        phase(cluster, f"saving the final model to {final.location()}")
        save_final(network, tokenizer, metrics, config, final)
    leave_group()
    return metrics


def _start_up(exp: Experiment, cluster: Cluster, store: Store, final: Store, config: bytes) -> ResumePoint | None:
    """The checkpoint to resume from; rank 0 also cleans up after killed attempts and keeps the config."""
    resume = load_resume_point(store, global_rank(cluster), cluster.world_size, lambda m: phase(cluster, m))
    if global_rank(cluster) == 0:
        reclaim(store, final, resume, lambda m: phase(cluster, m))
        keep_config(store, config)
    if resume and (message := grace_warning(resume.save_seconds, exp.job.grace_period_seconds)):
        phase(cluster, f"warning: {message}")
    return resume


def _load(exp: Experiment, cluster: Cluster, resume: ResumePoint | None):
    """Tokenizer, data (the sampler at the resumed position) and network: (tokenizer, ReviewsData, network)."""
    phase(cluster, f"loading tokenizer, data and model ({exp.model.path})")
    model_dir = Path(exp.storage.model.mount) / exp.model.path
    tokenizer = _tokenizer(model_dir)
    check_sequence_length(exp, model_dir, tokenizer)
    data = ReviewsData(exp, tokenizer, rank=global_rank(cluster), world_size=cluster.world_size)
    data.prepare()
    if resume:
        data.train_sampler.load_state_dict(resume.rank_state["sampler"])
    return tokenizer, data, build_network(exp, model_dir, data.label_names, tokenizer.vocab_size)


def _callbacks(exp: Experiment, cluster: Cluster, flag: StopFlag, store: Store, resume: ResumePoint | None,
               data: ReviewsData) -> tuple[PreemptionSafe, RunLogs, TrainingClock, StepLines]:
    """This attempt's checkpointing, logs (rank 0 fetches an S3 run's earlier logs), clock and progress lines."""
    def say(message: str) -> None:
        phase(cluster, message)

    writer = CheckpointWriter(store, global_rank(cluster), cluster.world_size, exp.storage.checkpoints.keep_last,
                              log=say, peer_timeout=exp.job.peer_timeout_seconds)
    logs = RunLogs(cluster, resume.step if resume else 0, lambda m: say(f"warning: {m}"))
    if global_rank(cluster) == 0:
        logs.download()
    safe = PreemptionSafe(exp, flag, writer, data.train_sampler, resume, lambda m: say(f"warning: {m}"), logs)
    steps = StepLines(exp.train.log_every_n_steps, data.optimizer_steps(), data.steps_per_epoch(),
                      cluster.world_size, say)
    return safe, logs, TrainingClock(resume.committed if resume else None), steps


def reclaim(store: Store, final: Store, resume: ResumePoint | None, log) -> None:
    """Rank 0 at start-up, before any rank writes: remove what killed attempts left behind (step folders
    newer than the resume point, none of which verified; incomplete S3 multipart uploads)."""
    for folder in reclaim_newer_than(store, resume.step if resume else None):
        log(f"removed {store.location(folder)}: it did not verify, and this attempt writes that step again")
    aborted = store.reclaim_uploads() + final.reclaim_uploads()
    if aborted:
        log(f"aborted {aborted} incomplete multipart upload(s) left by a killed attempt")


def keep_config(store: Store, config: bytes) -> None:
    """The experiment config beside the run's checkpoints, once per run: the run id hashes it, so every
    attempt of the run was started with the same one."""
    if store.size("", EXPERIMENT) is None:
        store.commit("", EXPERIMENT, config)


def leave_group() -> None:
    """Leave the process group together. Exiting with it alive lets rank 0 take the rendezvous store down
    under a peer's background threads, which then abort ("terminate called without an active exception")."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _fit(trainer, module, data, resume, store, exp, cluster, flag, safe) -> dict:
    """Train this attempt: steps, resumed_from_step and samples_per_second (of this attempt)."""
    start_step = resume.step if resume else 0
    phase(cluster, f"{TRAINING_STARTED} {start_step} of {data.optimizer_steps()} on {cluster.world_size} "
                   f"process(es): {len(data.splits['train'])} examples{' (resumed)' if resume else ''}")
    started = time.perf_counter()
    try:
        if flag.requested:  # SIGTERM while loading: nothing new to save
            raise Preempted(start_step)
        with tempfile.TemporaryDirectory() as tmp, \
                requeue_if_the_gang_breaks(safe, store, exp, start_step, global_rank(cluster)):
            ckpt_path = _stage(resume, Path(tmp)) if resume else None
            trainer.fit(module, datamodule=data, ckpt_path=ckpt_path)
    except Preempted as stop:
        count_requeue(store, exp, start_step, stop.step, global_rank(cluster))
        leave_group()  # every rank raised at the same step, so all of them are here
        raise
    seconds = time.perf_counter() - started
    samples = (trainer.global_step - start_step) * exp.train.batch_size * exp.train.grad_accumulation
    return {"steps": trainer.global_step, "resumed_from_step": start_step,
            "samples_per_second": round(samples * cluster.world_size / seconds, 2)}


def load_resume_point(store: Store, rank: int, world_size: int, log) -> ResumePoint | None:
    """The newest verified checkpoint, with the files this rank needs; None for a fresh start.

    Raises DataError (exit 2: a retry cannot help) when the checkpoint was written by another world size:
    growing, the new ranks would find no state; shrinking, the ranks left would resume with other ranks'
    data positions and silently skip or repeat examples."""
    found = latest_valid(store, keep=frozenset({TRAINER_FILE, rank_file(rank)}), log=log)
    if found is None:
        return None
    manifest, files = found
    if manifest.world_size != world_size:
        raise DataError(f"resources: checkpoint step {manifest.step} in {store.location(step_dir(manifest.step))} "
                        f"was written by {manifest.world_size} processes and this run has {world_size}; run it "
                        "with the nodes and GPUs it started with, or start afresh under another --run-id")
    return ResumePoint(manifest.step, files[TRAINER_FILE], from_bytes(files[rank_file(rank)]), manifest.save_seconds,
                       manifest.created)


def _stage(resume: ResumePoint, tmp: Path) -> str:
    """Lightning restores from a file path: the verified bytes go to a private temp file."""
    path = tmp / TRAINER_FILE
    path.write_bytes(resume.trainer_state)
    return str(path)


def _lightning_trainer(exp: Experiment, cluster: Cluster, callbacks: list[pl.Callback], logs: RunLogs) -> pl.Trainer:
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
        logger=logs.loggers,
        callbacks=callbacks,
        enable_progress_bar=False,  # a bar in a pipe is escape codes in every log: StepLines prints lines
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
    timeout = timedelta(seconds=exp.job.peer_timeout_seconds)  # a rank that lost a peer gives up in time
    if exp.train.strategy == "fsdp":  # GPUs only: the config schema rejects fsdp on CPU
        return FSDPStrategy(process_group_backend=backend, timeout=timeout)
    # DDP sums the first step of every process in one bucket laid out in parameter order, then rebuilds its
    # buckets in the order gradients became ready. A resumed attempt would sum its first step in the other
    # layout; with 3 or more ranks the ring then adds each element in another order, and the weights drift
    # from an uninterrupted run by rounding. find_unused_parameters keeps the first layout for good (the
    # Reducer never rebuilds then), for one autograd-graph walk per step: exact resume is worth it.
    return DDPStrategy(process_group_backend=backend, timeout=timeout, find_unused_parameters=True)


def _tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    from .records import DataError

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
    # cpu_cores parses every quantity form the schema accepts ("500m", "1.5", "2"): one parser for both halves.
    threads = min(max(1, int(exp.resources.cpu_cores) // cluster.nproc_per_node), os.cpu_count() or 1)
    torch.set_num_threads(threads)
    # Lightning's DDP setup resets the thread count to cpu_count // local processes unless this is set,
    # which ignores the pod's CPU limit (lightning_fabric.utilities.distributed._set_num_threads_if_needed).
    os.environ["OMP_NUM_THREADS"] = str(threads)


def slow_precision(exp: Experiment) -> str | None:
    """bf16-mixed on a CPU without native bfloat16 (AVX512-BF16 or AMX on x86) is emulated, slower than 32-bit."""
    if exp.train.precision != "bf16-mixed" or exp.resources.gpu.count or torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return None
    return ("train.precision is bf16-mixed but this CPU has no native bfloat16: it runs slower than "
            "--set train.precision=32")


def _quiet_lightning() -> None:
    """Lightning announces GPUs, TPUs and tips on every start; keep warnings and errors only."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    transformers_logging.disable_progress_bar()  # "Loading weights" bars, one per process
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Our sampler is resumable mid-epoch even though the DataLoader object is not Lightning-_Stateful.
    warnings.filterwarnings("ignore", message=".*resuming from a checkpoint that ended before the epoch ended.*")
    # We set find_unused_parameters for its fixed bucket layout, not for unused parameters (see _strategy).
    warnings.filterwarnings("ignore", message=".*find_unused_parameters=True was specified.*")


def global_rank(cluster: Cluster) -> int:
    return cluster.rank
