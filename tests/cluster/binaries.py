"""Where the control-plane binaries live: the cache folder that controlplane/build.sh fills.

The folder is keyed by the versions pinned in controlplane/versions.env, the same way build.sh keys it, so a
version bump never runs stale binaries.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = ROOT / "controlplane" / "versions.env"
NAMES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


class MissingControlPlane(RuntimeError):
    """The binaries are not built; the message says how to build them."""


def versions() -> dict[str, str]:
    """The pinned versions, KEY=value lines of versions.env (comments skipped)."""
    pairs = (line.split("=", 1) for line in VERSIONS_FILE.read_text().splitlines()
             if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def bin_dir() -> Path:
    """${KUBETRAIN_CACHE:-~/.cache/kubetrain}/controlplane-<versions>/bin, as build.sh computes it."""
    v = versions()
    key = f"k8s-{v['KUBERNETES_VERSION']}_etcd-{v['ETCD_VERSION']}_kwok-{v['KWOK_VERSION']}"
    cache = Path(os.environ.get("KUBETRAIN_CACHE") or Path.home() / ".cache" / "kubetrain")
    return cache / f"controlplane-{key}" / "bin"


def binaries() -> dict[str, Path]:
    """Each binary's path; raises MissingControlPlane with the fix when any is missing."""
    folder = bin_dir()
    paths = {name: folder / name for name in NAMES}
    missing = [name for name, path in paths.items() if not os.access(path, os.X_OK)]
    if missing or not (folder / ".stamp").exists():
        raise MissingControlPlane(
            f"the tests need a real Kubernetes control plane and {', '.join(missing) or 'the build stamp'} "
            f"is missing from {folder}.\nFix: run `make controlplane` (needs Go >= 1.26 and the Go module "
            "proxy; about 15 minutes on 2 cores the first time, cached afterwards).")
    return paths
