"""The contract between launcher and trainer: config models, environment variables, exit codes.

Pure pydantic: importing it pulls in neither torch nor kubernetes, so both halves (and the image) share it.
The trainer imports nothing else of the launcher.

The config models (`Experiment`, ...) are built on first use, not when the package is imported: importing
`launcher.schema.contract` (the environment variables, exit codes) costs no pydantic model, so `launch --help`
and the cluster commands that read no config stay fast (tests/test_boundaries.py pins it).

May import: nothing else of the launcher.
"""

from typing import TYPE_CHECKING

from .contract import EXIT_BAD_CONFIG, EXIT_CRASH, EXIT_OK, EXIT_REQUEUE

if TYPE_CHECKING:
    from .models import Experiment, check_run_id, pod_name_length

_FROM_MODELS = frozenset({"Experiment", "check_run_id", "pod_name_length"})

__all__ = ["EXIT_BAD_CONFIG", "EXIT_CRASH", "EXIT_OK", "EXIT_REQUEUE", "Experiment", "check_run_id", "pod_name_length"]


def __getattr__(name: str):
    """`Experiment`, `check_run_id`, `pod_name_length`: launcher.schema.models, imported on first use (PEP 562)."""
    if name in _FROM_MODELS:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
