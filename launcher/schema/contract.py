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

def utc_stamp(now: float | None = None) -> str:
    """`now` (seconds since the epoch; default: the clock) as RFC 3339 UTC to the second, `2026-11-29T15:30:01Z`:
    the form Kubernetes uses, and that of the trainer's lines and the local runner's records."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))


# The trainer prints this once training (fresh or resumed) begins; the local runner times drills from it.
TRAINING_STARTED = "training from step"
# ... and, every train.log_every_n_steps optimizer steps, a line the STEP_LINE pattern matches (after a UTC
# timestamp and "[RUN_ID] "), written by trainer.progress.step_line:
#   reached step 40/200 (epoch 1/2), loss 0.5120, 28.6 samples/s, ETA 2m05s
# epoch counts from 1; samples/s (all ranks) and ETA come from this attempt's steps only; ", loss ..." is
# missing until a loss is logged; the ETA reads 45s, 2m05s or 1h02m.
STEP_REACHED = "reached step"
STEP_LINE = (rf"{STEP_REACHED} (?P<step>\d+)/(?P<total>\d+) \(epoch (?P<epoch>\d+)/(?P<epochs>\d+)\)"
             r"(?:, loss (?P<loss>\S+?))?(?:, (?P<samples_per_s>[\d.]+) samples/s)?(?:, ETA (?P<eta>\w+))?$")

# A checkpoint save that takes more than this share of job.grace_period_seconds may be cut off by SIGKILL: the
# launcher warns from the size the model implies, the trainer from the last save it timed.
SAVE_SHARE_OF_GRACE = 0.8

# A run's CSV (csv/metrics.csv) and TensorBoard (tensorboard/) logs: <checkpoint root>/<run id>/<LOGS_AREA>.
LOGS_AREA = "logs"

CONFIG_MOUNT_DIR = "/etc/experiment"
CONFIG_FILE_NAME = "config.yaml"
CONFIG_PATH = f"{CONFIG_MOUNT_DIR}/{CONFIG_FILE_NAME}"
CONTAINER_NAME = "trainer"
TERMINATION_LOG = "/dev/termination-log"
COMPLETION_INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"

# The termination message every trainer process writes to TERMINATION_LOG when it exits, and the launcher reads
# from the pod's `status.containerStatuses[].state.terminated.message`. One line of JSON (the kubelet keeps at
# most 4096 bytes of it):
#   {"v": 1, "outcome": "finished" | "requeue" | "error", "exit_code": int,
#    "committed_step": int | null  (the newest checkpoint step whose manifest verified, null if none),
#    "metrics": {name: number}      (final scalars; {} unless finished),
#    "summary": str                 (the line the trainer printed, cut to fit)}
TERMINATION_MESSAGE_VERSION = 1
TERMINATION_MESSAGE_MAX_BYTES = 4096


def termination_message(exit_code: int, summary: str, committed_step: int | None = None,
                        metrics: dict | None = None) -> str:
    """The JSON line above, at most TERMINATION_MESSAGE_MAX_BYTES of UTF-8: metrics are dropped, then the
    summary is cut, when it would not fit."""
    outcome = {EXIT_OK: "finished", EXIT_REQUEUE: "requeue"}.get(exit_code, "error")
    body = {"v": TERMINATION_MESSAGE_VERSION, "outcome": outcome, "exit_code": exit_code,
            "committed_step": committed_step, "metrics": dict(metrics or {}), "summary": summary}
    if len(_compact(body)) > TERMINATION_MESSAGE_MAX_BYTES:
        body["metrics"] = {}
    while len(_compact(body)) > TERMINATION_MESSAGE_MAX_BYTES:
        body["summary"] = body["summary"][: len(body["summary"]) * 3 // 4]
    return _compact(body).decode()


def _compact(body: dict) -> bytes:
    import json

    return json.dumps(body, separators=(",", ":"), default=str).encode()


def parse_termination_message(text: str | None) -> dict:
    """The fields of a termination message: {"committed_step", "metrics", "summary", "outcome"}. A message in
    another format (an older trainer, a crash before main ran) is kept whole as the summary; never raises."""
    import json

    empty = {"committed_step": None, "metrics": {}, "summary": (text or "").strip(), "outcome": None}
    try:
        body = json.loads(text or "")
    except ValueError:
        return empty
    if not isinstance(body, dict) or body.get("v") != TERMINATION_MESSAGE_VERSION:
        return empty
    step = body.get("committed_step")
    metrics = body.get("metrics") if isinstance(body.get("metrics"), dict) else {}
    return {"committed_step": step if isinstance(step, int) else None, "metrics": metrics,
            "summary": str(body.get("summary", "")), "outcome": body.get("outcome")}
