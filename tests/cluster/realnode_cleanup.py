"""What the real node creates on the machine beyond its files, and how all of it is taken apart.

The kubelet removes what it made when its pods are deleted; this is for everything else, and for when it
did not get the chance (Ctrl-C mid-test, a crash): the kubelet and containerd are stopped, the containers
killed through their cgroups (whatever containerd's shims still run is there), the shims killed, every
mount under the node's folder unmounted (pod volumes, rootfs overlays, network namespaces: containerd keeps
them under its state dir), the cgroups removed, the bridge deleted. Each step tolerates the previous one
having half-happened, so `teardown` can run twice.
"""

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

from .processes import ProcessGroup
from .realnode_config import CGROUP_FS, NodeLayout

_MNT_DETACH = 2


def hierarchies() -> list[Path]:
    """The cgroup v1 hierarchies (one folder each under /sys/fs/cgroup), or the v2 root alone."""
    if (CGROUP_FS / "cgroup.controllers").exists():
        return [CGROUP_FS]
    return sorted(p for p in CGROUP_FS.iterdir() if p.is_dir() and (p / "cgroup.procs").exists())


def create_cgroup_root(root: str) -> None:
    """mkdir the kubelet's cgroupRoot in every hierarchy; cpuset's copies its parent's CPUs and memory nodes
    (an empty cpuset admits no task)."""
    for hierarchy in hierarchies():
        path = hierarchy / root.lstrip("/")
        path.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (path / name).exists() and not (path / name).read_text().strip():
                (path / name).write_text((hierarchy / name).read_text())


def create_bridge(name: str, address: str) -> None:
    """The pods' bridge with the node's address (/24): the kubelet's node IP must exist before it starts."""
    subprocess.run(["ip", "link", "add", "name", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "addr", "add", f"{address}/24", "dev", name], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)


def teardown(lay: NodeLayout, procs: ProcessGroup) -> None:
    """Remove every trace of the node from the machine (see the module docstring)."""
    procs.stop()  # the kubelet first: it would restart what is killed next
    kill_cgroup_tasks(lay.cgroup_root)
    kill_shims(lay.socket)
    unmount_below(lay.root)
    remove_cgroup_root(lay.cgroup_root)
    subprocess.run(["ip", "link", "delete", lay.bridge], capture_output=True)


def cgroup_pids(root: str) -> set[int]:
    """Every process in the cgroup subtree `root`, in any hierarchy."""
    pids = set()
    for hierarchy in hierarchies():
        for procs in (hierarchy / root.lstrip("/")).rglob("cgroup.procs"):
            pids.update(int(line) for line in _read(procs).split())
    return pids


def kill_cgroup_tasks(root: str, timeout: float = 10) -> None:
    """SIGKILL every process of the subtree until none is left (a fork may race the first pass)."""
    deadline = time.monotonic() + timeout
    while (pids := cgroup_pids(root)) and time.monotonic() < deadline:
        for pid in pids:
            _kill(pid)
        time.sleep(0.1)


def shim_pids(socket: Path) -> list[int]:
    """containerd-shim processes started by the containerd listening on `socket` (it is in their argv)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            argv = _read(proc / "cmdline").split("\0")
            if argv and "containerd-shim" in argv[0] and str(socket) in argv:
                pids.append(int(proc.name))
    return pids


def kill_shims(socket: Path) -> None:
    """SIGKILL the shims: they outlive containerd by design."""
    for pid in shim_pids(socket):
        _kill(pid)


def mounts_below(folder: Path) -> list[str]:
    """Mount points at or under `folder`, deepest first (from /proc/self/mountinfo)."""
    prefix = str(folder.resolve())
    mountinfo = _read(Path("/proc/self/mountinfo")).splitlines()
    points = [line.split()[4].encode().decode("unicode_escape") for line in mountinfo]
    return sorted({p for p in points if p == prefix or p.startswith(prefix + "/")}, key=len, reverse=True)


def unmount_below(folder: Path) -> None:
    """Detach every mount under `folder` (lazily: a dying process may still hold one)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(3):  # a mount can hide another at the same point
        points = mounts_below(folder)
        if not points:
            return
        for point in points:
            libc.umount2(point.encode(), _MNT_DETACH)


def remove_cgroup_root(root: str) -> None:
    """rmdir the subtree deepest first, in every hierarchy (a cgroup folder is removed by rmdir only)."""
    for hierarchy in hierarchies():
        top = hierarchy / root.lstrip("/")
        if not top.exists():
            continue
        for folder in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _rmdir(folder)
        _rmdir(top)


def leftovers(lay: NodeLayout) -> list[str]:
    """What of the node is still on the machine: the test of `teardown`."""
    left = [f"process {pid} in {lay.cgroup_root}" for pid in cgroup_pids(lay.cgroup_root)]
    left += [f"shim {pid}" for pid in shim_pids(lay.socket)]
    left += [f"mount {point}" for point in mounts_below(lay.root)]
    left += [f"cgroup {h / lay.cgroup_root.lstrip('/')}" for h in hierarchies()
             if (h / lay.cgroup_root.lstrip("/")).exists()]
    if Path(f"/sys/class/net/{lay.bridge}").exists():
        left.append(f"bridge {lay.bridge}")
    return left


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # the process or cgroup went away meanwhile
        return ""


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _rmdir(folder: Path) -> None:
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError:  # still busy: a task exiting; one retry after it has
        time.sleep(0.2)
        folder.rmdir()
