"""One attempt of a local Job: a process per completion index, their output, and signals to them."""

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from ..schema.contract import TRAINING_STARTED
from .echo import Echo
from .pod import LocalPod, index_env
from .state import log_path

PROGRESS_EVERY = 2.0  # seconds between echoed progress-bar updates; the log file keeps all of them


class Gang:
    """Processes of one attempt. Each runs in its own session, so a terminal's Ctrl-C reaches only us."""

    def __init__(self, pod: LocalPod, folder: Path, attempt: int, echo: Echo):
        self.pod, self.folder, self.attempt, self.echo = pod, folder, attempt, echo
        self.procs: list[subprocess.Popen] = []
        self.readers: list[threading.Thread] = []
        self.training_since: float | None = None  # when index 0 said training began

    def start(self) -> None:
        port = free_port()
        for index in range(self.pod.completions):
            proc = subprocess.Popen(self.pod.command, env={**os.environ, **index_env(self.pod, index, port)},
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            self.procs.append(proc)
            reader = threading.Thread(target=self._pump, args=(index, proc), daemon=True)
            reader.start()
            self.readers.append(reader)

    def codes(self) -> list[int | None]:
        return [p.poll() for p in self.procs]

    def signal(self, index: int, signum: int) -> None:
        if self.procs[index].poll() is None:
            self.procs[index].send_signal(signum)

    def stop(self, grace: float, first: Callable[[], None] | None = None) -> None:
        """SIGTERM whatever still runs, SIGKILL it after `grace` seconds, as the kubelet does."""
        for index in range(len(self.procs)):
            self.signal(index, signal.SIGTERM)
        self.wait(grace)
        self.kill()

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        self.wait(None)

    def wait(self, timeout: float | None) -> None:
        end = None if timeout is None else time.monotonic() + timeout
        for proc in self.procs:
            left = None if end is None else max(0.0, end - time.monotonic())
            try:
                proc.wait(left)
            except subprocess.TimeoutExpired:
                return
        for reader in self.readers:
            reader.join(timeout=5)

    def tail(self, index: int, lines: int = 10) -> list[str]:
        text = log_path(self.folder, index, self.attempt).read_text(errors="replace")
        return [line for line in text.replace("\r", "\n").splitlines() if line.strip()][-lines:]

    def _pump(self, index: int, proc: subprocess.Popen) -> None:
        """Copy a process's output to its log file, and echo it prefixed with its index.

        Progress bars redraw with carriage returns and no newline, so output is read in chunks, not lines;
        a bar is echoed at most every PROGRESS_EVERY seconds.
        """
        path = log_path(self.folder, index, self.attempt)
        path.parent.mkdir(parents=True, exist_ok=True)
        last_bar, pending = 0.0, ""
        with open(path, "wb") as log:
            while chunk := proc.stdout.read1(1 << 16):
                log.write(chunk)
                log.flush()
                lines, bars, pending = split_output(pending + chunk.decode(errors="replace"))
                if bars and time.monotonic() - last_bar >= PROGRESS_EVERY:
                    last_bar = time.monotonic()
                    self._say(index, bars[-1])
                for line in lines:
                    if index == 0 and self.training_since is None and TRAINING_STARTED in line:
                        self.training_since = time.monotonic()
                    self._say(index, line)
            if pending.strip():
                self._say(index, pending)

    def _say(self, index: int, text: str) -> None:
        self.echo.line(f"[{index}] {text.strip()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def split_output(text: str) -> tuple[list[str], list[str], str]:
    """Complete lines, progress-bar redraws (ended by a carriage return), and the unfinished rest."""
    *complete, rest = text.split("\n")
    lines = [line.split("\r")[-1] for line in complete if line.split("\r")[-1].strip()]
    *bars, rest = rest.split("\r")
    return lines, [b for b in bars if b.strip()], rest
