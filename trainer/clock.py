"""Training time across attempts: what a preempted run really cost, not just its last attempt.

The cumulative figures ride in trainer.pt (Lightning saves a callback's state_dict with the checkpoint and
restores it before training), so they survive every resume exactly as far as the checkpoint goes: time a
killed attempt spent after its last checkpoint is lost time, counted when the next attempt starts.
"""

import time

import pytorch_lightning as pl


class TrainingClock(pl.Callback):
    """Seconds of training of this attempt and of all attempts, and seconds lost to preemptions.

    committed: wall time (s since the epoch) the resumed checkpoint was committed; None on a fresh start."""

    def __init__(self, committed: float | None):
        self.committed = committed
        self.earlier_train = 0.0  # training seconds of earlier attempts, up to the resumed checkpoint
        self.lost = 0.0  # seconds lost by earlier resumes, then by this one
        self.started: float | None = None  # time.monotonic() when this attempt's training started
        self.ended: float | None = None

    def state_dict(self) -> dict:
        return {"train_seconds": self.total_train_seconds(), "lost_seconds": self.lost}

    def load_state_dict(self, state: dict) -> None:
        self.earlier_train, self.lost = state["train_seconds"], state["lost_seconds"]

    def on_train_start(self, trainer: pl.Trainer, pl_module) -> None:
        self._begin()

    def on_train_end(self, trainer: pl.Trainer, pl_module) -> None:
        self.ended = time.monotonic()

    def on_fit_end(self, trainer: pl.Trainer, pl_module) -> None:
        if self.started is None:  # resumed at the last step (a test was interrupted): nothing left to train
            self._begin()

    def _begin(self) -> None:
        self.started = time.monotonic()
        if self.committed is not None:  # downtime, restart, and steps trained past the checkpoint
            self.lost += max(0.0, time.time() - self.committed)

    def attempt_train_seconds(self) -> float:
        """This attempt's seconds from its first step to the end of training (or to now)."""
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def total_train_seconds(self) -> float:
        return self.earlier_train + self.attempt_train_seconds()

    def metrics(self) -> dict[str, float]:
        """train_seconds (all attempts), attempt_train_seconds (this one), lost_seconds (all resumes)."""
        return {"train_seconds": round(self.total_train_seconds(), 2),
                "attempt_train_seconds": round(self.attempt_train_seconds(), 2),
                "lost_seconds": round(self.lost, 2)}
