"""One real node in the test cluster: containerd and a real kubelet, running the trainer's test image.

    node = RealNode.start(workdir, kubeconfig, core)   # Ready, schedulable by pods that opt in
    node.stop()                                        # nothing of it is left on the machine

The node is named `localhost`, labelled and tainted `kubetrain.test/real-node=true` (NoSchedule), so only a
pod that selects and tolerates it lands there; kwok leaves it alone (it manages annotated nodes only). Pods
get their own network namespaces on a bridge of their own (CNI bridge + host-local); nothing they do leaves the
machine. What it needs of the machine (root, cgroups, the apt packages) is checked first, and a lack is one
line naming the fix (MissingNodePackages). Its files live under `workdir`; see realnode_cleanup.py for how
it is taken apart, also after Ctrl-C.
"""

import atexit
import json
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import yaml
from kubernetes import client

from . import images
from .binaries import ROOT, MissingControlPlane, bin_dir
from .processes import ProcessGroup
from .realnode_cleanup import create_bridge, create_cgroup_root, remember, sweep_stale, teardown
from .realnode_config import (CGROUP_FS, CNI_BIN_DIR, NODE_LABEL, NODE_NAME, NodeLayout, base_runtime_spec,
                              cni_network, containerd_config, kubelet_argv, kubelet_config)
from .wait import until

APT_PACKAGES = ("containerd", "runc", "containernetworking-plugins", "mmdebstrap", "tini")
INSTALL = f"apt-get install -y {' '.join(APT_PACKAGES)}"
SELECTOR = {NODE_LABEL: "true"}
TOLERATION = {"key": NODE_LABEL, "operator": "Equal", "value": "true", "effect": "NoSchedule"}
TAINT = {"key": NODE_LABEL, "value": "true", "effect": "NoSchedule"}


class MissingNodePackages(MissingControlPlane):
    """The machine lacks what the real node needs; the message is one line with the command that fixes it."""


def missing_packages() -> list[str]:
    """The apt packages of APT_PACKAGES whose programs are not installed (empty when all are)."""
    probes = {"containerd": shutil.which("containerd") and shutil.which("ctr"), "runc": shutil.which("runc"),
              "containernetworking-plugins": (CNI_BIN_DIR / "bridge").exists(),
              "mmdebstrap": shutil.which("mmdebstrap"), "tini": shutil.which("tini")}
    return [package for package, found in probes.items() if not found]


def check_machine() -> None:
    """Raise MissingNodePackages naming what this machine lacks for a real node, and how to fix it."""
    if missing := missing_packages():
        raise MissingNodePackages(f"the real node needs {', '.join(missing)}; fix: {INSTALL}  (as root)")
    if not (CGROUP_FS / "memory").is_dir() and not (CGROUP_FS / "cgroup.controllers").exists():
        raise MissingNodePackages(f"the real node needs cgroups mounted at {CGROUP_FS}; fix: mount them "
                                  "(e.g. `mount -t cgroup2 none /sys/fs/cgroup`)")
    if sys.version_info[:2] != images.PYTHON:
        raise MissingNodePackages(f"the test image runs the venv's packages with Debian {images.SUITE}'s Python "
                                  f"{'.'.join(map(str, images.PYTHON))}, and this venv's is {sys.version.split()[0]}; "
                                  "fix: make the venv with Python 3.11 (PY=python3.11 make setup)")
    if not (bin_dir() / "kubelet").exists():
        raise MissingNodePackages(f"the kubelet is missing from {bin_dir()}; fix: make controlplane")


class RealNode:
    """A started containerd + kubelet pair; use `RealNode.start`."""

    def __init__(self, lay: NodeLayout, procs: ProcessGroup, image: str):
        self.layout = lay
        self.procs = procs
        self.image = image
        self.start_seconds = 0.0

    @classmethod
    def start(cls, workdir: Path, kubeconfig: Path, core: client.CoreV1Api, port: int, healthz_port: int,
              timeout: float = 90) -> "RealNode":
        """Build or reuse the images, start containerd and the kubelet, return once the node is Ready with
        only its own taint. `kubeconfig` is the node's (user system:node:localhost)."""
        started = time.monotonic()
        check_machine()
        sweep_stale()  # what a SIGKILLed harness left
        pause, pause_archive = images.build_pause()
        trainer, trainer_archive = images.build_trainer()
        site_packages = Path(sysconfig.get_path("purelib")).resolve()  # this venv's, run by the image's Python
        lay = NodeLayout(workdir / "realnode", port, ROOT, site_packages)
        lay.root.mkdir(parents=True)
        node = cls(lay, ProcessGroup(lay.root), trainer)
        atexit.register(node.stop)  # as the ProcessGroup does: an exit that skips stop() still tears down
        try:
            node._boot(pause, [pause_archive, trainer_archive], kubeconfig, core, healthz_port, timeout)
        except BaseException:
            node.stop(core)
            raise
        node.start_seconds = time.monotonic() - started
        return node

    def _boot(self, pause: str, archives: list[Path], kubeconfig: Path, core: client.CoreV1Api,
              healthz_port: int, timeout: float) -> None:
        lay = self.layout
        remember(lay)
        create_bridge(lay.bridge, lay.node_ip)
        create_cgroup_root(lay.cgroup_root)
        self._write_configs(pause, healthz_port)
        self.procs.start("containerd", ["containerd", f"--config={lay.root / 'containerd.toml'}"])
        self._until(lambda: self._ctr("version", check=False).returncode == 0, timeout, "containerd to answer")
        for archive in archives:
            self._ctr("images", "import", str(archive))
        self.procs.start("kubelet", kubelet_argv(bin_dir() / "kubelet", lay, kubeconfig))
        self._until(lambda: _ready(core, NODE_NAME), timeout, f"node {NODE_NAME} Ready (real kubelet)")
        # No node-lifecycle controller runs here (see nodes.py): lift the not-ready taint as it would.
        core.patch_node(NODE_NAME, {"spec": {"taints": [TAINT]}})

    def _write_configs(self, pause: str, healthz_port: int) -> None:
        lay = self.layout
        (lay.root / "containerd").mkdir()
        (lay.root / "cni" / "net.d").mkdir(parents=True)
        (lay.root / "containerd.toml").write_text(containerd_config(lay, pause))
        default_spec = json.loads(subprocess.check_output(["ctr", "oci", "spec"]))
        spec = base_runtime_spec(default_spec, lay, images.SRC_MOUNT, images.SITE_MOUNT)
        (lay.root / "containerd" / "base-spec.json").write_text(json.dumps(spec, indent=1))
        (lay.root / "cni" / "net.d" / "10-kubetrain.conflist").write_text(json.dumps(cni_network(lay), indent=1))
        (lay.root / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config(lay, healthz_port)))

    def _ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["ctr", f"--address={self.layout.socket}", "--namespace=k8s.io", *args],
                              check=check, capture_output=True, text=True)

    def _until(self, check, timeout: float, what: str):
        def alive_and(check=check):
            self.procs.check_alive()
            return check()
        return until(alive_and, timeout, what, interval=0.2)

    def stop(self, core: client.CoreV1Api | None = None) -> None:
        """Delete the node's pods through the kubelet while it runs (volumes unmounted, CNI released), then
        stop it and containerd and remove whatever is left (realnode_cleanup.teardown). Idempotent."""
        if core is not None and self.procs.children:
            _drain(core, self._ctr)
        teardown(self.layout, self.procs)


def _ready(core: client.CoreV1Api, name: str) -> bool:
    try:
        node = core.read_node(name)
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def _drain(core: client.CoreV1Api, ctr, timeout: float = 30) -> None:
    """Force-delete every pod bound to the node and wait until containerd runs no container."""
    try:
        pods = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_NAME}").items
        for pod in pods:
            core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
        until(lambda: not ctr("containers", "list", "--quiet", check=False).stdout.strip(), timeout,
              "the real node's containers to be removed by its kubelet")
    except Exception:  # noqa: BLE001  the forced teardown that follows removes what is left
        pass
