"""What the trainer prints while it trains: plain, timestamped lines, never a bar.

A pod's stdout is a pipe, and whatever it prints ends in `kubectl logs`, CI logs and the local runner's
files; a bar's carriage returns and cursor moves would be saved there too. So rank 0 prints one line every
`train.log_every_n_steps` optimizer steps, one after each validation, and the local runner draws its own
live bar from these lines (launcher.schema.contract.STEP_LINE parses them).
"""

import time
from typing import Callable

import pytorch_lightning as pl

from launcher.schema.contract import STEP_REACHED, utc_stamp


def stamped(run_id: str, message: str, now: float | None = None) -> str:
    """A trainer line: `2026-11-29T15:30:01Z [RUN_ID] message`."""
    return f"{utc_stamp(now)} [{run_id}] {message}"


def duration(seconds: float) -> str:
    """A short duration: `45s`, `2m05s`, `1h02m` (whole seconds, rounded)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def step_line(step: int, total: int, epoch: int, epochs: int, loss: float | None, samples_per_s: float,
              eta_seconds: float) -> str:
    """`reached step 40/200 (epoch 1/2), loss 0.5120, 28.6 samples/s, ETA 2m05s` (epoch counts from 1; the
    loss is left out while none has been logged)."""
    loss_part = f", loss {loss:.4f}" if loss is not None else ""
    return (f"{STEP_REACHED} {step}/{total} (epoch {epoch}/{epochs}){loss_part}, "
            f"{samples_per_s:.1f} samples/s, ETA {duration(eta_seconds)}")


def validation_line(step: int, metrics: dict[str, float]) -> str:
    """`validation at step 100: val_accuracy 0.7960, val_f1 0.7610` (metrics in the order logged)."""
    return f"validation at step {step}: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics.items())


class StepLines(pl.Callback):
    """Progress lines (`say` prints on rank 0 only). Rates count this attempt only: the clock starts when this
    attempt's training starts, at the step it resumed from, so a resumed run neither inherits nor dilutes an
    earlier rate.

    every: optimizer steps between lines; total: optimizer steps of the run; steps_per_epoch: optimizer
    steps in one epoch; world_size: processes, each training a same-sized shard of every batch."""

    def __init__(self, every: int, total: int, steps_per_epoch: int, world_size: int, say: Callable[[str], None]):
        self.every, self.total, self.world_size, self.say = every, total, world_size, say
        self.epochs = max(1, -(-total // max(1, steps_per_epoch)))
        self.started, self.first_step, self.samples = 0.0, 0, 0

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        self.started, self.first_step, self.samples = time.monotonic(), trainer.global_step, 0

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.samples += len(batch["labels"]) * self.world_size  # the sampler pads shards to one length
        step = trainer.global_step
        if (batch_idx + 1) % trainer.accumulate_grad_batches or step % self.every:
            return
        seconds = max(time.monotonic() - self.started, 1e-9)
        steps_per_s = (step - self.first_step) / seconds
        eta = (self.total - step) / steps_per_s if steps_per_s else 0.0
        loss = trainer.callback_metrics.get("train_loss")
        self.say(step_line(step, self.total, trainer.current_epoch + 1, self.epochs,
                           None if loss is None else float(loss), self.samples / seconds, eta))

    def on_validation_end(self, trainer: pl.Trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        if metrics:
            self.say(validation_line(trainer.global_step, metrics))
