"""The contract between launcher and trainer: config models, environment variables, exit codes.

Pure pydantic: importing it pulls in neither torch nor kubernetes, so both halves (and the image) share it.
The trainer imports nothing else of the launcher.

May import: nothing else of the launcher.
"""

from .contract import EXIT_BAD_CONFIG, EXIT_CRASH, EXIT_OK, EXIT_REQUEUE
from .models import Experiment, check_run_id, pod_name_length

__all__ = ["EXIT_BAD_CONFIG", "EXIT_CRASH", "EXIT_OK", "EXIT_REQUEUE", "Experiment", "check_run_id", "pod_name_length"]
