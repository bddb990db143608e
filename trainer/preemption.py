"""SIGTERM handling that stops every rank at the same optimizer step.

Lightning's own handler runs a collective inside the signal handler and broadcasts from rank 0 only, so a
signal that reaches rank 1 alone is lost. Here the handler only sets a flag, and ranks agree on it with one
tiny all-reduce (MAX) at each optimizer-step boundary: whoever heard the signal, everyone stops together.
"""

import signal

import pytorch_lightning as pl
import torch


class Preempted(Exception):
    """Training stopped on purpose at `step`; the process should exit with the requeue code."""

    def __init__(self, step: int):
        super().__init__(f"stopped at step {step} on SIGTERM")
        self.step = step


class StopOnSignal(pl.Callback):
    def __init__(self, signals=(signal.SIGTERM, signal.SIGINT)):
        self.signals = signals
        self.requested = False
        self.stopped_at: int | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Replaces the handler Lightning installed moments ago; Lightning restores the original at teardown.
        for signum in self.signals:
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if (batch_idx + 1) % trainer.accumulate_grad_batches:
            return  # only between optimizer steps, never inside an accumulation
        if self._agreed(pl_module.device):
            self.stopped_at = trainer.global_step
            trainer.should_stop = True

    def _agreed(self, device: torch.device) -> bool:
        flag = torch.tensor([1 if self.requested else 0], device=device)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def raise_if_stopped(self) -> None:
        if self.stopped_at is not None:
            raise Preempted(self.stopped_at)
