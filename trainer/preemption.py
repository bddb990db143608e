"""Preemption-safe training: periodic checkpoints, and on SIGTERM every rank stops at the same step,
commits a checkpoint and leaves with the requeue code.

Lightning's own SIGTERM handler runs a collective inside the signal handler and broadcasts from rank 0
only, so a signal that reaches rank 1 alone is lost, and its SIGTERMException (a SystemExit with no code)
ends a process with exit 0 and no model. So it is never installed (`own_signals`): our handler only sets
a flag, and ranks agree on it with one tiny all-reduce (MAX) at each optimizer-step boundary: whoever
heard it, everyone stops.
"""

import time
import uuid

import pytorch_lightning as pl
import torch
from pytorch_lightning.trainer.connectors.signal_connector import _SignalConnector

from launcher.schema import Experiment
from launcher.schema.contract import SAVE_SHARE_OF_GRACE

from .checkpoints.snapshot import Snapshot
from .checkpoints.state import TRAINER_FILE, ResumePoint, TorchFile, capture_rng, rank_file, restore_rng
from .checkpoints.writer import CheckpointWriter
from .logs import RunLogs
from .signals import StopFlag


class Preempted(Exception):
    """Training stopped on purpose at `step`; the process should exit with the requeue code."""

    def __init__(self, step: int):
        super().__init__(f"stopped at step {step} on SIGTERM")
        self.step = step


class _NoSignalHandlers(_SignalConnector):
    """Lightning's signal connector with its handlers left out: SIGTERM stays with our StopFlag.

    Lightning 2.6 broadcasts from rank 0 inside its SIGTERM handler and raises SIGTERMException (exit 0)
    on the ranks that heard it: https://github.com/Lightning-AI/pytorch-lightning/issues/20806."""

    def register_signal_handlers(self) -> None:
        self.received_sigterm = False

    def teardown(self) -> None:
        """Nothing was replaced, so nothing is restored."""


def own_signals(trainer: pl.Trainer) -> pl.Trainer:
    """Keep Lightning from installing its SIGTERM handler in fit() and test(); returns `trainer`."""
    trainer._signal_connector = _NoSignalHandlers(trainer)
    return trainer


class PreemptionSafe(pl.Callback):
    def __init__(self, exp: Experiment, flag: StopFlag, writer: CheckpointWriter, sampler,
                 resume: ResumePoint | None, warn, logs: RunLogs):
        self.exp, self.flag, self.writer, self.sampler = exp, flag, writer, sampler
        self.resume, self.warn, self.logs = resume, warn, logs
        self.consumed = 0  # samples of the current epoch this rank has trained on
        self.last_save = time.monotonic()
        self.warned = False
        self.gang_formed = False  # set once every rank has joined the process group
        self.trained = False  # set once this attempt has trained a batch
        self.saved_step: int | None = resume.step if resume else None
        self.snapshot = Snapshot()  # host memory for periodic saves, reused from one to the next
        self.blocked: list[float] = []  # seconds each save held the step loop

    def setup(self, trainer: pl.Trainer, pl_module, stage: str) -> None:
        """Runs after the strategy has formed the process group: every rank is here."""
        self.gang_formed = True
        if stage == "fit":
            self.writer.attempt = _agreed_token()

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        if self.resume:
            restore_rng(self.resume.rank_state["rng"])
        self.last_save = time.monotonic()
        self.consumed = self.sampler.offset  # a resumed epoch is not announced by on_train_epoch_start

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module) -> None:
        self.consumed = self.sampler.offset  # 0 for a new epoch: set_epoch() has reset it

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.consumed += len(batch["labels"])
        self.trained = True
        if (batch_idx + 1) % trainer.accumulate_grad_batches:
            return  # only between optimizer steps, never inside an accumulation
        stop, timed = self._agree(pl_module.device)
        ckpt, step = self.exp.checkpoint, trainer.global_step
        periodic = timed or bool(ckpt.every_n_steps and step % ckpt.every_n_steps == 0)
        if stop:
            self.logs.log_pending_step(trainer, outputs, batch, batch_idx)  # the save then uploads it too
        if periodic or (stop and ckpt.on_preemption):
            self._save(trainer, step, stopping=stop)
        if stop:
            self.writer.flush()  # SIGTERM waits only for this: the committed checkpoint
            raise Preempted(step)

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        """The last step is committed before test and the final save, so a SIGTERM there loses nothing."""
        step = trainer.global_step
        stop, _ = self._agree(pl_module.device)
        if self.saved_step != step:
            self._save(trainer, step, stopping=True)
        self.writer.flush()
        if stop:
            raise Preempted(step)

    def on_test_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int,
                          dataloader_idx: int = 0) -> None:
        """No collective here (test shards differ in length): the rank that heard SIGTERM leaves, and its
        peers requeue when their next collective finds it gone. The last step is committed already."""
        if self.flag.requested:
            raise Preempted(trainer.global_step)

    def _agree(self, device: torch.device) -> tuple[bool, bool]:
        minutes = self.exp.checkpoint.every_n_minutes
        timed = bool(minutes) and time.monotonic() - self.last_save >= minutes * 60
        flags = torch.tensor([int(self.flag.requested), int(timed)], device=device)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        return bool(flags[0]), bool(flags[1])

    def _save(self, trainer: pl.Trainer, step: int, stopping: bool = False) -> None:
        """Hand this step's state to the writer. A periodic save blocks only while the state is copied out
        (a snapshot: training changes the live tensors from the next step on); the writer serialises,
        hashes, publishes and commits it in the background. `stopping`: training goes no further (SIGTERM,
        or the end of training), so the live state is written as it is (on CPU with no copy; from a GPU it is
        first copied to host memory, as torch.save would do anyway); the caller flushes.

        One save in flight at a time: a save waits for the one before it (it only waits when saves take
        longer than the checkpoint interval), so every checkpoint the config asks for is written, in order."""
        began = time.monotonic()
        self.writer.flush()  # also surfaces a failed background write, on this thread
        started = time.monotonic()
        self._check_budget()
        # dump_checkpoint is what ModelCheckpoint saves from on_train_batch_end; every rank calls it, since
        # strategies that shard (FSDP) gather the full state with collectives.
        state = trainer._checkpoint_connector.dump_checkpoint(weights_only=False)
        objects = {rank_file(trainer.global_rank): {
            "rng": capture_rng(), "sampler": {"epoch": trainer.current_epoch, "offset": self.consumed}}}
        if trainer.is_global_zero:
            objects[TRAINER_FILE] = state
        if not stopping or trainer.strategy.root_device.type != "cpu":  # GPU: torch.save would copy anyway
            objects = self.snapshot.take(objects)
        files = {name: TorchFile(obj) for name, obj in objects.items()}
        self.writer.submit(step, trainer.current_epoch, files, started)
        self.blocked.append(time.monotonic() - began)
        self.last_save, self.saved_step = time.monotonic(), step
        if trainer.is_global_zero:
            self.logs.sync()  # the logs up to this checkpoint, flushed (and on S3, uploaded) with it

    def _check_budget(self) -> None:
        message = grace_warning(self.writer.last_seconds, self.exp.job.grace_period_seconds)
        if message and not self.warned:
            self.warned = True
            self.warn(message)


def _agreed_token() -> str:
    """A token for this attempt that every rank shares (rank 0's, broadcast): it tags part records."""
    token = [uuid.uuid4().hex[:12]]
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.broadcast_object_list(token, src=0)
    return token[0]


def grace_warning(save_seconds: float, grace_seconds: int) -> str | None:
    """Why a preemption's checkpoint may not commit in time, if the last save says so."""
    if save_seconds <= SAVE_SHARE_OF_GRACE * grace_seconds:
        return None
    return (f"the last checkpoint took {save_seconds:.1f} s to commit; the grace period is {grace_seconds} s: "
            "a preemption may be cut off before its checkpoint commits (raise job.grace_period_seconds)")
