"""A run's CSV and TensorBoard logs, whole across attempts: every logged step of every attempt, once.

Lightning logs the metrics of optimizer step g at log step g - 1, after the callbacks' on_train_batch_end.
A resumed attempt from the checkpoint of step s logs again from log step s on, so earlier attempts' points
at log steps >= s are replays (a hard kill lets the gang log past its last checkpoint): the newest attempt's
values replace them, since only they belong to the weights that go on. On a volume the logs live beside the
checkpoints; for S3 runs they are written to local disk, downloaded when an attempt starts and uploaded (the
`logs` area of the run, beside `checkpoints`) at every checkpoint and before the process exits.
"""

import csv
import os
import tempfile
from pathlib import Path

import pytorch_lightning as pl
from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.trainer import call

from launcher.schema.contract import LOGS_AREA

from .checkpoints.store import Store
from .checkpoints.uri import open_store
from .env import Cluster


class _KeepEarlierRows(ExperimentWriter):
    """Lightning's CSV writer deletes metrics.csv when it starts; this one keeps the rows of log steps below
    `first_step` (earlier attempts) and appends."""

    def __init__(self, log_dir: str, first_step: int):
        self.first_step = first_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:
        if not self._fs.isfile(self.metrics_file_path):
            return
        with self._fs.open(self.metrics_file_path, "r", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [row for row in reader if _step(row) < self.first_step]
            keys = list(reader.fieldnames or [])
        with self._fs.open(self.metrics_file_path, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        self.metrics_keys = sorted(keys)  # save() rewrites the header only when a new key appears


def _step(row: dict) -> float:
    """A row's log step; a row a kill cut short (no step) sorts last, so it is dropped."""
    step = row.get("step") or ""
    return int(step) if step.isdigit() else float("inf")


class HistoryCSVLogger(CSVLogger):
    """A CSVLogger whose metrics.csv keeps the earlier attempts' rows below `first_step`."""

    def __init__(self, save_dir: Path, first_step: int):
        super().__init__(save_dir, name="csv", version="")
        self.first_step = first_step

    @property
    @rank_zero_experiment  # other ranks get Lightning's no-op writer: only rank 0 may touch metrics.csv
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _KeepEarlierRows(self.log_dir, self.first_step)
        return self._experiment


class RunLogs:
    """The loggers of one attempt, and their copy on the run's store (S3 runs only).

    first_step: the first log step this attempt writes (the resumed checkpoint's step; 0 on a fresh start)."""

    def __init__(self, cluster: Cluster, first_step: int, warn):
        self.first_step, self.warn = first_step, warn
        self.remote: Store | None = None
        self.dir = Path(cluster.checkpoint_uri) / cluster.run_id / LOGS_AREA
        if cluster.checkpoint_uri.startswith("s3://"):
            self.remote = open_store(cluster.checkpoint_uri, cluster.run_id, area=LOGS_AREA)
            self.dir = Path(tempfile.gettempdir()) / "kubetrain" / f"{cluster.run_id}-{os.getpid()}" / LOGS_AREA
        self.loggers = [HistoryCSVLogger(self.dir, first_step),
                        # purge_step: TensorBoard hides the earlier files' events at steps >= first_step (0 too:
                        # a fresh start after an attempt that committed no checkpoint logs every step again).
                        TensorBoardLogger(self.dir, name="tensorboard", version="", default_hp_metric=False,
                                          purge_step=first_step)]

    def download(self) -> None:
        """Rank 0, before training: the earlier attempts' logs of an S3 run."""
        if self.remote is not None and self.first_step:
            self.remote.download_tree("", self.dir)

    def log_pending_step(self, trainer: pl.Trainer, outputs, batch, batch_idx: int) -> None:
        """Log the current step's metrics now, from a callback's on_train_batch_end, before a stop raises out
        of the loop: Lightning runs the module's on_train_batch_end (which logs samples_per_s) after the
        callbacks' and logs the step only after both (training_epoch_loop.advance), so the last point before
        a SIGTERM would be lost. These are the two calls the loop would have made next."""
        call._call_lightning_module_hook(trainer, "on_train_batch_end", outputs, batch, batch_idx)
        trainer._logger_connector.update_train_step_metrics()

    def sync(self) -> None:
        """Rank 0: flush TensorBoard's buffered events and, on S3, upload the logs. A failure is a warning:
        losing a log upload must not turn a requeue or a finished run into a crash."""
        try:
            for logger in self.loggers:
                if isinstance(logger, TensorBoardLogger) and logger._experiment is not None:
                    logger._experiment.flush()
            if self.remote is not None and self.dir.is_dir():
                self.remote.upload_tree(self.dir, "")
        except Exception as exc:
            self.warn(f"could not save the logs to {self.remote.location() if self.remote else self.dir}: {exc}")
