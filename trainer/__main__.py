"""`python -m trainer --config PATH`: the image's entrypoint.

One process trains by itself; a gang of several processes (nodes x processes per node) forms through torch's
elastic agent (trainer/agent.py), which starts the workers as `python -m trainer` again."""

import signal
import sys

from .signals import StopFlag

flag = StopFlag()  # before torch and Lightning load: a SIGTERM while loading is a requeue, not a crash

from .main import main  # noqa: E402

code = main(flag=flag)
# The outcome is decided. Python resets its own signal handlers to the default while it shuts down, so a
# late SIGTERM would turn this exit code into "killed by SIGTERM"; an ignored signal is left ignored.
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, signal.SIG_IGN)
sys.exit(code)
