"""A stand-in for `python -m trainer` that tells a short story through the local runner: its first attempt
trains from step 0, draws a progress bar the way tqdm does (carriage returns, cursor escapes), reaches
step 10 and waits for the spot notice, then requeues; the second resumes from step 10 and finishes.

Environment: ATTEMPTS_DIR (a folder for the attempt counter)."""

import signal
import sys
import time
from pathlib import Path

from launcher.schema import EXIT_CRASH, EXIT_OK, EXIT_REQUEUE
from launcher.schema.contract import STEP_REACHED, TRAINING_STARTED
from tests.fake_trainer import next_attempt


def say(text: str) -> None:
    print(text, flush=True)


def main() -> None:
    first = next_attempt(Path(__import__("os").environ["ATTEMPTS_DIR"]), 0) == 1
    start = 0 if first else 10
    say(f"[story] {TRAINING_STARTED} {start} of 20 on 1 process(es)")
    sys.stdout.write("\x1b[A\rTraining:  10%|#| 2/20\rTraining:  20%|##| 4/20\x1b[0m\n")
    say(f"[story] {STEP_REACHED} {start + 10}/20 (epoch 1/1), loss 0.5000, 10.0 samples/s, ETA 1s")
    if first:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_REQUEUE))
        time.sleep(60)
        sys.exit(EXIT_CRASH)
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
