"""The wire between launcher and trainer: environment variables, exit codes, fixed paths.

Both halves import these names; neither spells the strings itself.
"""

# Exit codes (trainer -> Job podFailurePolicy). 75 is EX_TEMPFAIL from sysexits.h: "try again later".
EXIT_OK = 0
EXIT_BAD_CONFIG = 2
EXIT_REQUEUE = 75
EXIT_CRASH = 1  # any other code counts toward backoffLimit; the trainer gives up with this one

# Environment variables the launcher sets and the trainer reads; nothing else crosses.
ENV_NODE_RANK = "NODE_RANK"
ENV_NNODES = "NNODES"
ENV_NPROC_PER_NODE = "NPROC_PER_NODE"
ENV_MASTER_ADDR = "MASTER_ADDR"
ENV_MASTER_PORT = "MASTER_PORT"
ENV_RUN_ID = "RUN_ID"
ENV_CHECKPOINT_URI = "CHECKPOINT_URI"
ENV_EXPERIMENT_CONFIG = "EXPERIMENT_CONFIG"

# The trainer prints this once training (fresh or resumed) begins; the local runner times drills from it.
TRAINING_STARTED = "training from step"
# ... and, every train.log_every_n_steps optimizer steps, "<STEP_REACHED> <step>/<total> ...".
STEP_REACHED = "reached step"

# A checkpoint save that takes more than this share of job.grace_period_seconds may be cut off by SIGKILL: the
# launcher warns from the size the model implies, the trainer from the last save it timed.
SAVE_SHARE_OF_GRACE = 0.8

CONFIG_MOUNT_DIR = "/etc/experiment"
CONFIG_FILE_NAME = "config.yaml"
CONFIG_PATH = f"{CONFIG_MOUNT_DIR}/{CONFIG_FILE_NAME}"
CONTAINER_NAME = "trainer"
TERMINATION_LOG = "/dev/termination-log"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
