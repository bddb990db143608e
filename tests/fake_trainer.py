"""A stand-in for `python -m trainer` in the local runner's table test: the k-th process of index i ends as
`scenario.step(i, k)` says (tests/job_outcomes.py), so the local runner meets the very scenarios the real
Job controller was measured on.

Environment: SCENARIO (a scenario's name), ATTEMPTS_DIR (a folder for per-index attempt counters), and the
contract's NODE_RANK."""

import os
import signal
import sys
import time
from pathlib import Path

from launcher.schema import EXIT_CRASH
from launcher.schema.contract import TRAINING_STARTED
from tests.job_outcomes import OOM, SCENARIOS, Notice


def next_attempt(folder: Path, index: int) -> int:
    counter = folder / f"index-{index}"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    return attempt


def main() -> None:
    scenario = next(s for s in SCENARIOS if s.name == os.environ["SCENARIO"])
    index = int(os.environ["NODE_RANK"])
    step = scenario.step(index, next_attempt(Path(os.environ["ATTEMPTS_DIR"]), index))
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
