"""One local "pod": the process of one completion index's attempt, its output, and signals to it."""

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import psutil

from .echo import Echo
from .pod import LocalPod, index_env
from .state import log_path

# ECMA-48 control sequences: CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), and two-byte
# escapes (ESC 7, ESC c, ...).
ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[0-~]")


class PodProcess:
    """Index `index`'s attempt `attempt`: `python -m trainer` (the elastic agent and its workers) in a
    session of its own, so a terminal's Ctrl-C reaches only the supervisor. `on_line` sees every line."""

    def __init__(self, pod: LocalPod, folder: Path, index: int, attempt: int, port: int, echo: Echo,
                 on_line: Callable[[int, str], None]):
        self.index, self.attempt, self.echo, self.on_line = index, attempt, echo, on_line
        self.log = log_path(folder, index, attempt)
        self.proc = subprocess.Popen(pod.command, env={**os.environ, **index_env(pod, index, port)},
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def poll(self) -> int | None:
        """The exit code once the pod's main process has exited (a signal shows as a negative code)."""
        return self.proc.poll()

    def terminate(self) -> None:
        """SIGTERM to the pod's main process, as the kubelet sends it to the container's PID 1."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to every process of the pod at once, as when its node vanishes or its grace runs out."""
        try:
            tree = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for process in tree:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait()

    def wait(self, timeout: float | None) -> bool:
        """True once the pod's main process has exited (within `timeout` seconds)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self.reader.join(timeout=5)
        return True

    def tail(self, lines: int = 10) -> list[str]:
        text = self.log.read_text(errors="replace") if self.log.is_file() else ""
        return [line for line in text.replace("\r", "\n").splitlines() if line.strip()][-lines:]

    def _pump(self) -> None:
        """Copy the output, line by line and cleaned (plain_line), to the log file whatever happens to the
        echo, and echo it prefixed with the index."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "w", encoding="utf-8") as log:
            for raw in self.proc.stdout:
                if not (line := plain_line(raw.decode(errors="replace"))):
                    continue
                log.write(line + "\n")
                log.flush()
                self.on_line(self.index, line)
                self._say(line)

    def _say(self, text: str) -> None:
        self.echo.line(f"[{self.index}] {text.strip()}")


def stop_all(pods: list[PodProcess], grace: float) -> None:
    """SIGTERM every pod, SIGKILL what still runs after `grace` seconds, as the kubelet does."""
    for pod in pods:
        pod.terminate()
    end = time.monotonic() + grace
    for pod in pods:
        if not pod.wait(max(0.0, end - time.monotonic())):
            pod.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plain_line(text: str) -> str:
    """What a line shows once drawn: the last carriage-return redraw, without terminal escape sequences
    (colours, cursor moves) and trailing blanks. A library that draws a bar must not fill the saved log
    with redraws and escapes."""
    return ESCAPE.sub("", text.rstrip("\r\n").split("\r")[-1]).rstrip()
