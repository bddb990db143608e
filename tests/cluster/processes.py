"""Child processes that never outlive the harness.

Each component runs in its own process group (so a stop reaches anything it forked) and is told by the
kernel to die with its parent (PR_SET_PDEATHSIG), which covers the one exit no Python code sees: SIGKILL of
the test run. Normal exits, Ctrl-C and SIGTERM go through `stop()`, registered with atexit as well.
"""

import atexit
import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: new process group, SIGKILL when the parent dies."""
    os.setpgid(0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ProcessGroup:
    """Starts named components, logs each to a file, and stops them all (last started, first stopped)."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.children: list[tuple[str, subprocess.Popen]] = []
        atexit.register(self.stop)

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        """Start one component; its stdout and stderr go to <log_dir>/<name>.log."""
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    preexec_fn=_die_with_parent)
        self.children.append((name, proc))
        return proc

    def check_alive(self) -> None:
        """Raise with the tail of its log if a component has exited."""
        for name, proc in self.children:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last lines a component wrote, for error messages."""
        path = self.log_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, grace: float = 2.0) -> None:
        """SIGTERM every group, wait up to `grace` seconds, then SIGKILL what is left. Idempotent.

        The grace is short on purpose: all data is throwaway, and the apiserver's graceful drain alone
        would take longer than the rest of the teardown.
        """
        children, self.children = self.children[::-1], []
        for _, proc in children:
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, proc in children:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Kill the group even after a clean exit of the leader: a forked helper may still hold it.
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def interrupt_on_sigterm() -> None:
    """Make SIGTERM act like Ctrl-C (KeyboardInterrupt), so pytest stops the run and tears its fixtures down
    and `make cluster` stops cleanly; Python's default would die without running any cleanup."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
