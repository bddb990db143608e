"""The real node leaves nothing behind: `make cluster` stopped by Ctrl-C or SIGTERM while a pod runs there
removes every process (containerd, kubelet, shims, the container), mount, cgroup, network namespace and
bridge it made. A leftover is a failing test.
"""

import signal
import tempfile
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.cluster import images
from tests.cluster.realnode import SELECTOR, TOLERATION
from tests.cluster.realnode_cleanup import hierarchies, sweep_stale
from tests.cluster.wait import until
from tests.factory import start_make_cluster

pytestmark = [pytest.mark.cluster, pytest.mark.real_node]


def machine_state() -> dict[str, set[str]]:
    """What a real node can leave on the machine, by kind."""
    procs = set()
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        name = Path(argv[0].decode(errors="replace")).name if argv else ""
        if proc.name.isdigit() and name.startswith(("containerd", "kubelet", "tini", "pause")):
            procs.add(f"{proc.name} {name}")
    mounts = {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}
    return {
        "processes": procs,
        "mounts": {m for m in mounts if "kubetrain-cluster-" in m or "/netns/" in m},
        "cgroups": {str(p) for h in hierarchies() for p in h.glob("kubetrain-*")},
        "links": {p.name for p in Path("/sys/class/net").iterdir()},
    }


def _pod(image: str) -> dict:
    return {"metadata": {"name": "sleeper"},
            "spec": {"nodeSelector": SELECTOR, "tolerations": [TOLERATION], "restartPolicy": "Never",
                     "containers": [{"name": "c", "image": image, "command": [
                         "/usr/bin/tini", "--", "python", "-c", "import time; print('up', flush=True); time.sleep(600)"]}]}}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_cluster_leaves_nothing_of_the_real_node_behind(sig, tmp_path):
    before = machine_state()
    kubeconfig = tmp_path / "kubeconfig"
    runner, lines = start_make_cluster(kubeconfig)
    try:
        assert kubeconfig.exists(), "\n".join(lines)
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        image = images.image_name("trainer", images.trainer_recipe())
        core.create_namespaced_pod("default", _pod(image))
        until(lambda: core.read_namespaced_pod("sleeper", "default").status.phase == "Running", 120,
              "the pod Running on the real node", interval=0.5)
        until(lambda: "up" in core.read_namespaced_pod_log("sleeper", "default"), 30,
              "the pod's first line, served by the real kubelet", interval=0.5)
        during = machine_state()
        assert during["cgroups"] - before["cgroups"] and during["mounts"] - before["mounts"]
    finally:
        runner.send_signal(sig)
        output = runner.communicate(timeout=120)[0]
    assert runner.returncode == 0, output
    after = machine_state()
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}


def test_what_a_sigkilled_harness_left_is_swept_at_the_next_start(tmp_path):
    """SIGKILL runs no code: containerd and the kubelet die with their parent (PR_SET_PDEATHSIG), and the node's
    cgroups, mounts and bridge stay until the next real node starts and sweeps them (sweep_stale)."""
    before = machine_state()
    kubeconfig = tmp_path / "kubeconfig"
    runner, lines = start_make_cluster(kubeconfig)
    try:
        assert kubeconfig.exists(), "\n".join(lines)
    finally:
        runner.kill()
        runner.communicate(timeout=60)
    left = machine_state()
    assert left["cgroups"] - before["cgroups"], "nothing to sweep: the test proves nothing"
    assert any(root.startswith(str(Path(tempfile.gettempdir()) / "kubetrain-cluster-")) for root in sweep_stale())
    after = machine_state()
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}
