"""`python -m trainer --config PATH`: the image's entrypoint.

One process trains by itself; a gang of several processes (nodes x processes per node) forms through torch's
elastic agent (trainer/agent.py), which starts the workers as `python -m trainer` again."""

import os
import signal
import sys

# torch's C++ warnings go to stderr past Python's warning filters; the one every DDP start prints is about
# find_unused_parameters, which we set on purpose (trainer/run.py::_strategy). Set it to WARNING to see them.
os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")

from .signals import StopFlag  # noqa: E402

flag = StopFlag()  # before torch and Lightning load: a SIGTERM while loading is a requeue, not a crash

from .main import main  # noqa: E402

code = main(flag=flag)
# The outcome is decided. Python resets its own signal handlers to the default while it shuts down, so a
# late SIGTERM would turn this exit code into "killed by SIGTERM"; an ignored signal is left ignored.
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, signal.SIG_IGN)
sys.exit(code)
