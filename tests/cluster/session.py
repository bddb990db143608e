"""The cluster the tests share: a control plane plus the cluster-wide objects every run needs."""

import time
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client

from .controlplane import ControlPlane
from .namespaces import manifest_objects
from .nodes import create_all_pools


@dataclass
class Cluster:
    """A started control plane with the node pools of node_pools.yaml registered and Ready."""

    control_plane: ControlPlane
    api: client.ApiClient
    pools: dict[str, list[str]] = field(default_factory=dict)
    start_seconds: float = 0.0

    @property
    def core(self) -> client.CoreV1Api:
        """CoreV1Api on the admin client."""
        return client.CoreV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        """BatchV1Api on the admin client."""
        return client.BatchV1Api(self.api)

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig."""
        return self.control_plane.kubeconfig

    def stop(self) -> None:
        """Stop every process of the control plane."""
        self.control_plane.stop()


def start_cluster(workdir: Path) -> Cluster:
    """Start the control plane in `workdir`, create the PriorityClass our configs name and the node pools."""
    started = time.monotonic()
    cp = ControlPlane.start(workdir)
    try:
        api = cp.client()
        for obj in manifest_objects("priorityclass"):
            client.SchedulingV1Api(api).create_priority_class(obj)
        pools = create_all_pools(client.CoreV1Api(api))
    except BaseException:
        cp.stop()
        raise
    return Cluster(cp, api, pools, time.monotonic() - started)
