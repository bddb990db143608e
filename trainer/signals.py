"""The stop flag, installed before anything heavy is imported and kept for the life of the process:
SIGTERM while loading, in fit, test or the final save is a requeue (Lightning's own handler is never
installed: see trainer.preemption.own_signals)."""

import signal

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopFlag:
    """Set by SIGTERM / SIGINT; the training loop reads it at step boundaries."""

    def __init__(self):
        self.requested = False
        for signum in SIGNALS:
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True
