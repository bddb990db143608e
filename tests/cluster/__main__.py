"""`make cluster`: the tests' control plane in the foreground, for people and scripts.

Writes an admin kubeconfig to .cluster/kubeconfig once the API answers and the node pools are Ready, then
waits; Ctrl-C or SIGTERM stops every process and removes the kubeconfig.

    make cluster &  ...  kubectl --kubeconfig .cluster/kubeconfig get nodes
"""

import shutil
import signal
import sys
import tempfile
from pathlib import Path

from .binaries import ROOT, MissingControlPlane
from .processes import exit_on_sigterm
from .session import start_cluster

KUBECONFIG = ROOT / ".cluster" / "kubeconfig"


def main() -> int:
    exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="kubetrain-cluster-") as workdir:
        try:
            cluster = start_cluster(Path(workdir))
        except MissingControlPlane as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        try:
            KUBECONFIG.parent.mkdir(exist_ok=True)
            shutil.copyfile(cluster.kubeconfig, KUBECONFIG)
            KUBECONFIG.chmod(0o600)
            nodes = sum(len(names) for names in cluster.pools.values())
            print(f"control plane ready in {cluster.start_seconds:.1f} s: {cluster.control_plane.layout.server}, "
                  f"{nodes} nodes in {len(cluster.pools)} pools\nkubeconfig: {KUBECONFIG}\n"
                  f"logs: {workdir}/*.log\nCtrl-C to stop.", flush=True)
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            KUBECONFIG.unlink(missing_ok=True)
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
