"""The cluster the tests share: a control plane plus the cluster-wide objects every run needs."""

import time
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client

from .controlplane import ControlPlane, _free_ports as free_ports
from .namespaces import manifest_objects
from .nodes import create_all_pools
from .realnode import RealNode
from .realnode_config import NODE_NAME

REAL_NODE_POOL = "real-node"


@dataclass
class Cluster:
    """A started control plane with the node pools of node_pools.yaml registered and Ready."""

    control_plane: ControlPlane
    api: client.ApiClient
    pools: dict[str, list[str]] = field(default_factory=dict)
    start_seconds: float = 0.0
    real_node: RealNode | None = None

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
        """Stop the real node (its pods deleted through its kubelet first), then the control plane."""
        if self.real_node is not None:
            self.real_node.stop(self.core)
        self.control_plane.stop()


def start_cluster(workdir: Path) -> Cluster:
    """Start the control plane in `workdir`, create the PriorityClass our configs name, the node pools and the
    real node (realnode.py)."""
    started = time.monotonic()
    cp = ControlPlane.start(workdir)
    cluster = Cluster(cp, cp.client())
    try:
        for obj in manifest_objects("priorityclass"):
            client.SchedulingV1Api(cluster.api).create_priority_class(obj)
        cluster.pools = create_all_pools(cluster.core)
        cluster.real_node = start_real_node(cluster)
        # A pool of its own, so whatever counts the cluster's nodes (the scheduler's "0/N nodes") counts it.
        cluster.pools[REAL_NODE_POOL] = [NODE_NAME]
    except BaseException:
        cluster.stop()
        raise
    cluster.start_seconds = time.monotonic() - started
    return cluster


def start_real_node(cluster: Cluster) -> RealNode:
    """The real node, its kubelet registered as system:node:localhost with the token the control plane made."""
    lay = cluster.control_plane.layout
    kubeconfig = lay.kubeconfig("system:node:localhost")
    return RealNode.start(lay.root, kubeconfig, cluster.core, *free_ports(2))
