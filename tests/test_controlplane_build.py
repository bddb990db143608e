"""controlplane/build.sh tells what it is doing: a build that waits for another one says so, and for whom."""

import os
import signal
import subprocess
from pathlib import Path

from tests.cluster.wait import until
from tests.factory import ROOT


def test_a_build_that_waits_for_another_says_so_and_for_whom(tmp_path):
    env = {**os.environ, "KUBETRAIN_CACHE": str(tmp_path)}
    printed = subprocess.run(["controlplane/build.sh", "--print-bin"], cwd=ROOT, env=env, capture_output=True,
                             text=True)
    lock = Path(printed.stdout.strip()).parent / "build.lock"
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(["flock", str(lock), "sleep", "120"], start_new_session=True)
    waiter = None
    try:
        until(lambda: subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 1, 10, "the lock held")
        waiter = subprocess.Popen(["controlplane/build.sh"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        line = waiter.stderr.readline()
        assert line.startswith("another build of this control plane is running (pid "), line
        assert f"waiting for it to finish (lock: {lock}) ..." in line
        assert "flock" in line or "sleep 120" in line  # the holder's command line
    finally:
        for process in filter(None, (waiter, holder)):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
