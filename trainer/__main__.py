import sys

from .signals import StopFlag

flag = StopFlag()  # before torch and Lightning load: a SIGTERM while loading is a requeue, not a crash

from .main import main  # noqa: E402

sys.exit(main(flag=flag))
