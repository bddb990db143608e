"""A stand-in for `python -m trainer` in the local runner's table test: the k-th process of index i ends as
`scenario.step(i, k)` says (tests/job_outcomes.py), so the local runner meets the very scenarios the real
Job controller was measured on.

Environment: SCENARIO (a scenario's name, or "staggered" for STAGGERED_LOSS), ATTEMPTS_DIR (a folder for
per-index attempt counters), and the contract's NODE_RANK."""

import time

STARTED = time.time()  # before the imports below, so that both indexes' start times compare

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from launcher.schema import EXIT_CRASH
from launcher.schema.contract import TRAINING_STARTED
from tests.job_outcomes import OOM, SCENARIOS, STAGGERED_LOSS, Notice


def next_attempt(folder: Path, index: int) -> int:
    counter = folder / f"index-{index}"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    return attempt


def staggered(folder: Path, index: int, attempt: int, seconds_per_base_step: float) -> None:
    """STAGGERED_LOSS: index 0's first pod fails at once, index 1's `gap` later (scaled like the back-off);
    later pods succeed. Each pod leaves {"started", "ended"} (epoch seconds) in times-<index>-<attempt>.json."""
    loss, scale = STAGGERED_LOSS, seconds_per_base_step / 10
    if attempt == 1 and index == 1:
        while not (folder / "times-0-1.json").exists():
            time.sleep(0.01)
        time.sleep(loss.gap * scale)
    (folder / f"times-{index}-{attempt}.json").write_text(json.dumps({"started": STARTED, "ended": time.time()}))
    sys.exit(loss.code if attempt == 1 else 0)


def main() -> None:
    index = int(os.environ["NODE_RANK"])
    attempt = next_attempt(Path(os.environ["ATTEMPTS_DIR"]), index)
    if os.environ["SCENARIO"] == "staggered":
        staggered(Path(os.environ["ATTEMPTS_DIR"]), index, attempt, float(os.environ["BACKOFF_BASE"]))
    scenario = next(s for s in SCENARIOS if s.name == os.environ["SCENARIO"])
    step = scenario.step(index, attempt)
    print(f"{TRAINING_STARTED} 0 of 1", flush=True)  # what drills are timed from
    if isinstance(step, Notice):  # wait for the spot notice, then exit as scripted (75: the save committed)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(step.exit_code))
        time.sleep(60)
        sys.exit(EXIT_CRASH)
    if step == OOM:
        os.kill(os.getpid(), signal.SIGKILL)  # the kernel's OOM killer
    sys.exit(step)


if __name__ == "__main__":
    main()
