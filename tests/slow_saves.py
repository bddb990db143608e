"""`python -m tests.slow_saves SECONDS --config PATH`: the trainer (one process by itself), with the fsync that
makes each checkpoint file durable (`*.pt` in a step folder) slowed by SECONDS, so a save stays in flight
that long and a test can signal the trainer during it. The delay is injected at the OS boundary."""

import os
import runpy
import sys
import time

DELAY = float(sys.argv.pop(1))
_fsync = os.fsync


def slow_fsync(fd: int) -> None:
    path = os.readlink(f"/proc/self/fd/{fd}")
    if path.endswith(".pt") and "/step-" in path:
        time.sleep(DELAY)
    _fsync(fd)


os.fsync = slow_fsync
runpy.run_module("trainer", run_name="__main__", alter_sys=True)
