"""`make cluster`: the tests' control plane in the foreground, for people and scripts.

Once the API answers and the node pools are Ready, applies manifests/ as a cluster admin would (the `training`
namespace, its claims bound to volumes of the cluster's own, the launcher's Role, the PriorityClass), writes an
admin kubeconfig whose context namespace is `training` to .cluster/kubeconfig, and waits; Ctrl-C or SIGTERM
stops every process and removes the kubeconfig.

    make cluster &  ...  kubectl --kubeconfig .cluster/kubeconfig get nodes
    python -m tests.cluster --kubeconfig PATH     # write it elsewhere
"""

import argparse
import signal
import sys
import tempfile
from pathlib import Path

import yaml

from .binaries import ROOT, MissingControlPlane
from .namespaces import apply_manifests
from .processes import interrupt_on_sigterm
from .session import start_cluster

KUBECONFIG = ROOT / ".cluster" / "kubeconfig"


def main(argv: list[str] | None = None) -> int:
    """Start, print where everything is, wait for Ctrl-C or SIGTERM, stop; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", type=Path, default=KUBECONFIG, help=f"default: {KUBECONFIG}")
    kubeconfig = parser.parse_args(argv).kubeconfig
    interrupt_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="kubetrain-cluster-") as workdir:
        try:
            cluster = start_cluster(Path(workdir))
        except MissingControlPlane as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        try:
            namespace = apply_manifests(cluster.api)
            write_kubeconfig(cluster.kubeconfig, kubeconfig, namespace)
            nodes = sum(len(names) for names in cluster.pools.values())
            print(f"control plane ready in {cluster.start_seconds:.1f} s: {cluster.control_plane.layout.server}, "
                  f"{nodes} nodes in {len(cluster.pools)} pools\nkubeconfig: {kubeconfig}\n"
                  f"logs: {workdir}/*.log\n"
                  f"manifests/ applied: namespace {namespace!r} (the kubeconfig's default), claims bound\n"
                  f"next, in another shell:  export KUBECONFIG={kubeconfig}; "
                  f".venv/bin/launch train configs/smoke.yaml\nCtrl-C to stop.", flush=True)
            signal.pause()
        except KeyboardInterrupt as exc:
            why = "SIGTERM" if str(exc) == f"signal {signal.SIGTERM}" else "Ctrl-C (SIGINT)"
            print(f"{why}: stopping the control plane and removing {kubeconfig} ...", flush=True)
        finally:
            kubeconfig.unlink(missing_ok=True)
            cluster.stop()
    print("stopped: no process of the cluster is left", flush=True)
    return 0


def write_kubeconfig(admin: Path, path: Path, namespace: str) -> None:
    """A copy of the admin kubeconfig whose context defaults to `namespace`, as `kubectl config
    set-context --current --namespace` would make it."""
    doc = yaml.safe_load(admin.read_text())
    for context in doc["contexts"]:
        context["context"]["namespace"] = namespace
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)  # it holds the admin token: never readable by others, not even for a moment
    path.write_text(yaml.safe_dump(doc))


if __name__ == "__main__":
    sys.exit(main())
