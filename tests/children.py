"""Processes a test starts: the signal dispositions the test relies on are set in the child, and every process
the child started is reaped when the test ends, however it ends.

- A shell starts a background command with SIGINT ignored, an ignored signal stays ignored across exec, and
  Python then installs no KeyboardInterrupt handler: a `launch` or `pytest` child would never see the
  test's Ctrl-C. `default_signals` resets SIGINT, SIGTERM and SIGQUIT to their defaults and unblocks every
  signal in the child, before exec.
- The local runner starts each trainer in a session of its own, and a process whose parent died is
  re-parented, so neither the process group nor the parent links find every process a test caused.
  `started` marks the child's environment (inherited by everything it starts) and `reap` kills every
  process carrying the mark.
"""

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

MARK = "KUBETRAIN_TEST_CHILD"
RESET = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


def default_signals() -> None:
    """Runs in the child between fork and exec: default dispositions for RESET, no signal blocked."""
    for sig in RESET:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


@contextmanager
def started(args: list[str], **kwargs) -> Iterator[subprocess.Popen]:
    """`subprocess.Popen(args, **kwargs)` with default signal dispositions; on the way out (test passed,
    failed or was interrupted) the child and everything it started are killed and waited for."""
    mark = secrets.token_hex(8)
    env = {**(kwargs.pop("env", None) or os.environ), MARK: mark}
    proc = subprocess.Popen(args, env=env, preexec_fn=default_signals, **kwargs)
    try:
        yield proc
    finally:
        reap(proc, mark)


def marked(mark: str) -> list[psutil.Process]:
    """The processes whose environment carries `mark` (the child and all it started, orphans included)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == mark:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def reap(proc: subprocess.Popen, mark: str) -> None:
    """SIGKILL `proc` and every process carrying `mark`, wait for them, close `proc`'s pipes."""
    for process in [psutil.Process(proc.pid)] if proc.poll() is None else []:
        _kill(process)
    for process in marked(mark):
        _kill(process)
    proc.wait()
    psutil.wait_procs(marked(mark), timeout=10)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()


def _kill(process: psutil.Process) -> None:
    try:
        process.kill()
    except psutil.NoSuchProcess:
        pass
