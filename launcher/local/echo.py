"""Where a local run reports to: the terminal, a pipe or a CI log."""

import os
import threading
from typing import TextIO


class Echo:
    """Prints whole lines, one thread at a time. A reader that goes away (`| head`, a closed CI log pipe)
    must not stop the run: from then on lines are dropped here, while the log files keep everything."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.lock = threading.Lock()
        self.closed = False

    def line(self, text: str) -> None:
        with self.lock:
            if self.closed:
                return
            try:
                print(text, file=self.stream, flush=True)
            except (OSError, ValueError):  # BrokenPipeError, or a stream closed under us
                self.closed = True
                _discard(self.stream)

    def close(self) -> None:
        """Nothing to tear down for plain lines (a terminal's live bar has its own)."""


def _discard(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null, so the flush at exit cannot fail again (what the
    Python docs advise for SIGPIPE: https://docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError):
        pass  # no descriptor (a StringIO in tests): nothing will flush it at exit
