"""`make cluster`: the tests' control plane in the foreground, for people and scripts.

Writes an admin kubeconfig to .cluster/kubeconfig once the API answers and the node pools are Ready, then
waits; Ctrl-C or SIGTERM stops every process and removes the kubeconfig.

    make cluster &  ...  kubectl --kubeconfig .cluster/kubeconfig get nodes
    python -m tests.cluster --kubeconfig PATH     # write it elsewhere
"""

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from .binaries import ROOT, MissingControlPlane
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
            kubeconfig.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cluster.kubeconfig, kubeconfig)
            kubeconfig.chmod(0o600)
            nodes = sum(len(names) for names in cluster.pools.values())
            print(f"control plane ready in {cluster.start_seconds:.1f} s: {cluster.control_plane.layout.server}, "
                  f"{nodes} nodes in {len(cluster.pools)} pools\nkubeconfig: {kubeconfig}\n"
                  f"logs: {workdir}/*.log\nCtrl-C to stop.", flush=True)
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            kubeconfig.unlink(missing_ok=True)
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
