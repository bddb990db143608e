"""The harness itself: loud failures with the fix when something is missing, and no process left behind
however the run ends. The runs these tests interrupt start with default signal dispositions and are reaped
whatever happens (tests/children.py), so they pass however this suite was started."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.children import started
from tests.cluster.binaries import MissingControlPlane, binaries, bin_dir
from tests.cluster.wait import until

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[1]


def test_missing_binaries_fail_with_the_command_that_builds_them(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBETRAIN_CACHE", str(tmp_path))
    with pytest.raises(MissingControlPlane, match="Fix: run `make controlplane`"):
        binaries()
    assert bin_dir().is_relative_to(tmp_path)


def test_the_build_without_go_says_how_to_get_it(tmp_path):
    # A PATH with only the tools build.sh uses before it looks for go (go may live in /usr/bin elsewhere).
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("dirname", "cat"):
        (tools / tool).symlink_to(shutil.which(tool))
    env = {**os.environ, "KUBETRAIN_CACHE": str(tmp_path / "cache"), "PATH": str(tools)}
    result = subprocess.run([shutil.which("bash"), "controlplane/build.sh"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert "'go' is not on PATH" in result.stderr and "make controlplane" in result.stderr


def test_the_build_prints_the_same_folder_the_tests_look_in():
    printed = subprocess.run(["controlplane/build.sh", "--print-bin"], cwd=ROOT, capture_output=True, text=True)
    assert Path(printed.stdout.strip()) == bin_dir()


def _components(parent: int) -> list[int]:
    """PIDs of control-plane processes started (directly) by `parent`."""
    out = subprocess.run(["ps", "-o", "pid=,ppid=,comm=", "-e"], capture_output=True, text=True).stdout
    names = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
    rows = [line.split(None, 2) for line in out.splitlines()]
    return [int(pid) for pid, ppid, comm in rows if int(ppid) == parent and comm.strip()[:15] in
            {n[:15] for n in names}]


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_make_cluster_leaves_no_process_behind(sig, tmp_path):
    """SIGTERM and Ctrl-C stop everything through the harness; SIGKILL, which no code sees, through
    PR_SET_PDEATHSIG."""
    kubeconfig = tmp_path / "kubeconfig"
    workdir = None
    try:
        with started([sys.executable, "-m", "tests.cluster", "--kubeconfig", str(kubeconfig)], cwd=ROOT,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as runner:
            ready, _, logs = (runner.stdout.readline() for _ in range(3))
            assert ready.startswith("control plane ready"), ready
            workdir = Path(logs.removeprefix("logs: ").strip()).parent
            children = _components(runner.pid)
            assert len(children) == 5 and kubeconfig.exists()
            runner.send_signal(sig)
            runner.wait(timeout=15)
            until(lambda: not _alive(children), 10, f"every component to exit after {sig.name}")
            if sig != signal.SIGKILL:  # the harness cleaned up after itself
                assert not kubeconfig.exists() and not workdir.exists()
    finally:
        if workdir:  # after SIGKILL nobody else removes it
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_an_interrupted_test_run_leaves_no_process_behind(sig):
    """Ctrl-C (or SIGTERM) in the middle of a cluster test: the session fixture still stops everything."""
    with started([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cluster_job_outcomes.py"],
                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as runner:
        children = until(lambda: len(pids := _components(runner.pid)) == 5 and pids, 60,
                         "the test run's control plane")
        time.sleep(2)  # inside the test now, not in set-up
        runner.send_signal(sig)
        assert runner.wait(timeout=20) == pytest.ExitCode.INTERRUPTED  # the run stopped, not just the test
        until(lambda: not _alive(children), 10, f"every component to exit after {sig.name}")
