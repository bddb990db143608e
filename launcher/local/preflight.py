"""Checks a local run can make before any process starts, because here the volumes are folders it can read.

On a cluster the same files are out of the launcher's sight; the trainer finds them at start-up (exit 2).
"""

import json
import math
import struct
from pathlib import Path

from ..config.loading import ConfigError
from ..schema import Experiment
from ..schema.contract import SAVE_SHARE_OF_GRACE

# Bytes of checkpoint per model parameter: fp32 weights plus AdamW's two fp32 moments (exp_avg, exp_avg_sq).
# The quickstart's MiniLM (22.7 M parameters) measures 260 MiB, i.e. 12.0 bytes each (docs/benchmarks.md).
CHECKPOINT_BYTES_PER_PARAMETER = 12
# An assumption, not a measurement: one stream from one pod to a network volume or object store. The trainer
# measures the real save time and warns again at start-up (trainer.preemption.grace_warning).
ASSUMED_WRITE_BYTES_PER_SECOND = 100 * 2**20


def check_files(exp: Experiment) -> None:
    """Raise ConfigError naming the config field when a data file or the model folder is missing; `exp` is
    the experiment as the trainer sees it here (mount paths are the claims' local folders)."""
    dataset = Path(exp.storage.dataset.mount)
    for field in ("train", "validation", "test"):
        name = getattr(exp.data, field)
        if name is not None and not (dataset / name).is_file():
            raise ConfigError(f"data.{field}: {name} is not in the dataset claim {exp.storage.dataset.claim!r} "
                              f"(no file {dataset / name}); put it there or map the claim with "
                              f"--volume {exp.storage.dataset.claim}=FOLDER")
    model = Path(exp.storage.model.mount) / exp.model.path
    if not model.is_dir():
        raise ConfigError(f"model.path: {exp.model.path} is not in the model claim {exp.storage.model.claim!r} "
                          f"(no folder {model}); put it there or map the claim with "
                          f"--volume {exp.storage.model.claim}=FOLDER")


def grace_warning(exp: Experiment) -> str | None:
    """Why a preemption's checkpoint may not commit within the grace period, judged from the model's size."""
    if exp.model.random_init is not None or not exp.checkpoint.on_preemption:
        return None
    parameters = parameter_count(Path(exp.storage.model.mount) / exp.model.path)
    if parameters is None:
        return None
    size = parameters * CHECKPOINT_BYTES_PER_PARAMETER
    seconds = size / ASSUMED_WRITE_BYTES_PER_SECOND
    grace = exp.job.grace_period_seconds
    if seconds <= SAVE_SHARE_OF_GRACE * grace:
        return None
    return (f"job.grace_period_seconds: {grace} s, but a checkpoint of {exp.model.path} ({parameters / 1e6:.0f} M "
            f"parameters with AdamW state: about {size / 2**30:.1f} GiB) takes about {seconds:.0f} s at "
            f"{ASSUMED_WRITE_BYTES_PER_SECOND // 2**20} MiB/s: a preemption may be cut off before it commits "
            f"(raise job.grace_period_seconds to at least {math.ceil(seconds / SAVE_SHARE_OF_GRACE)})")


def parameter_count(model_dir: Path) -> int | None:
    """Parameters in the model's safetensors files, read from their headers only; None if there are none."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        return None
    return sum(_safetensors_parameters(f) for f in files)


def _safetensors_parameters(path: Path) -> int:
    """The safetensors format: an 8-byte little-endian header length, then a JSON header of tensor shapes."""
    with open(path, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(length))
    return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")
