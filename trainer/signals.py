"""The stop flag, installed before anything heavy is imported: SIGTERM while loading is a requeue too."""

import signal

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopFlag:
    """Set by SIGTERM / SIGINT; the training loop reads it at step boundaries."""

    def __init__(self):
        self.requested = False
        self.reinstall()

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def reinstall(self) -> None:
        """Take the signals (back) from any other handler, e.g. the one Lightning installs in fit()."""
        for signum in SIGNALS:
            signal.signal(signum, self._handle)
