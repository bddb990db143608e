"""Pods started by a test, their output drained in the background (a full pipe would block a process, and
with it the gang) and searchable: phase lines come from whichever pod the rendezvous made rank 0."""

import threading
import time
from subprocess import Popen


class Watched:
    """One started process; `lines` holds what it printed so far, stdout and stderr together."""

    def __init__(self, proc: Popen):
        self.proc, self.lines = proc, []
        self.readers = [threading.Thread(target=self._drain, args=(stream,), daemon=True)
                        for stream in (proc.stdout, proc.stderr)]
        for reader in self.readers:
            reader.start()

    def _drain(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def printed(self, marker: str) -> bool:
        return any(marker in line for line in list(self.lines))

    def finish(self, timeout: float) -> tuple[int, str]:
        """Wait for the process to exit; returns its exit code and everything it printed."""
        code = self.proc.wait(timeout)
        for reader in self.readers:
            reader.join(timeout=5)
        return code, "".join(self.lines)


def watch(procs: list[Popen]) -> list[Watched]:
    return [Watched(proc) for proc in procs]


def wait_for_line(pods: list[Watched], marker: str, timeout: float = 180) -> None:
    """Until any of `pods` printed `marker`."""
    end = time.monotonic() + timeout
    while not any(pod.printed(marker) for pod in pods):
        assert time.monotonic() < end, f"nobody printed {marker!r}"
        assert all(pod.proc.poll() is None for pod in pods), "a pod ended before printing " + marker
        time.sleep(0.05)
