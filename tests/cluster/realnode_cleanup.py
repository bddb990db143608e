"""What the real node creates on the machine beyond its files, and how all of it is taken apart.

The kubelet removes what it made when its pods are deleted; this is for everything else, and for when it
did not get the chance (Ctrl-C mid-test, a crash): the kubelet and containerd are stopped, the containers
killed through their cgroups (whatever containerd's shims still run is there), the shims killed, every
mount under the node's folder unmounted (pod volumes, rootfs overlays, network namespaces: containerd keeps
them under its state dir), the cgroups removed, the bridge deleted. Each step tolerates the previous one
having half-happened, so `teardown` can run twice.
"""

import ctypes
import json
import os
import shutil
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


def teardown(lay: NodeLayout, procs: ProcessGroup | None = None) -> None:
    """Remove every trace of the node from the machine (see the module docstring); every step runs even when
    one before it failed, and the first failure is raised at the end."""
    steps = [lambda: procs and procs.stop(),  # the kubelet first: it would restart what is killed next
             lambda: kill_cgroup_tasks(lay.cgroup_root), lambda: kill_shims(lay.socket),
             lambda: unmount_below(lay.root), lambda: remove_cgroup_root(lay.cgroup_root),
             lambda: subprocess.run(["ip", "link", "delete", lay.bridge], capture_output=True)]
    errors = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001  re-raised below, once the rest is done
            errors.append(exc)
    forget(lay)
    if errors:
        raise errors[0]


# SIGKILL of the harness stops containerd and the kubelet (PR_SET_PDEATHSIG) but runs no teardown: each node
# records itself here while it lives, and the next start sweeps what a dead harness left.
REGISTRY = Path(os.environ.get("KUBETRAIN_CACHE") or Path.home() / ".cache" / "kubetrain") / "realnodes"


def remember(lay: NodeLayout) -> None:
    """Record the node as owned by this process (see sweep_stale)."""
    REGISTRY.mkdir(parents=True, exist_ok=True)
    record = {"pid": os.getpid(), "started": _start_time(os.getpid()), "root": str(lay.root),
              "kubelet_port": lay.kubelet_port, "src": str(lay.src), "site_packages": str(lay.site_packages)}
    (REGISTRY / f"{lay.kubelet_port}.json").write_text(json.dumps(record))


def forget(lay: NodeLayout) -> None:
    """Drop the node's record: nothing of it is left."""
    (REGISTRY / f"{lay.kubelet_port}.json").unlink(missing_ok=True)


def sweep_stale() -> list[str]:
    """Tear down the nodes whose harness process is gone; returns their folders."""
    swept = []
    for path in sorted(REGISTRY.glob("*.json")) if REGISTRY.is_dir() else []:
        record = json.loads(path.read_text())
        if _start_time(record["pid"]) == record["started"]:
            continue  # its harness still runs
        teardown(NodeLayout(Path(record["root"]), record["kubelet_port"], Path(record["src"]),
                            Path(record["site_packages"])))
        shutil.rmtree(record["root"], ignore_errors=True)  # its unpacked images alone are ~200 MiB
        swept.append(record["root"])
    return swept


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22): a pid reused by another
    process has another."""
    stat = _read(Path(f"/proc/{pid}/stat"))
    return stat.rsplit(")", 1)[1].split()[19] if stat else None


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
