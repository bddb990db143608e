"""Fake nodes from the pool templates in node_pools.yaml, run by kwok.

Nodes are registered the way a kubelet registers itself (create with status.capacity), so the apiserver's
TaintNodesByCondition admission gives each the `node.kubernetes.io/not-ready` taint. The node-lifecycle
controller would lift it once the node reports Ready; we do not run that controller (its heartbeat timeouts
would make a busy 2-core machine evict pods at random), so `create_pool` lifts it the same way once kwok has
marked the node Ready, leaving exactly the pool's own taints.
"""

from datetime import datetime, timezone
from pathlib import Path

import yaml
from kubernetes import client

from .wait import until

POOLS_FILE = Path(__file__).with_name("node_pools.yaml")
POOL_LABEL = "kubetrain.test/pool"
KWOK_ANNOTATION = {"kwok.x-k8s.io/node": "fake"}  # the selector kwok is started with


def load_pools(path: Path = POOLS_FILE) -> dict[str, dict]:
    """Pool name -> template (count, labels, taints, capacity merged over the defaults)."""
    doc = yaml.safe_load(path.read_text())
    defaults = doc.get("defaults", {})
    return {name: {**pool, "capacity": {**defaults.get("capacity", {}), **pool.get("capacity", {})}}
            for name, pool in doc["pools"].items()}


def node_manifest(pool: str, template: dict, index: int) -> dict:
    """One Node of a pool, as its kubelet would register it."""
    name = f"{pool}-{index}"
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              POOL_LABEL: pool, **template.get("labels", {})}
    capacity = {k: str(v) for k, v in template["capacity"].items()}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": dict(KWOK_ANNOTATION)},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def create_pool(core: client.CoreV1Api, pool: str, template: dict, timeout: float = 60) -> list[str]:
    """Register a pool's nodes, wait until kwok reports them Ready, then give them the pool's taints."""
    names = []
    for index in range(template.get("count", 1)):
        node = node_manifest(pool, template, index)
        core.create_node(node)
        names.append(node["metadata"]["name"])
    for name in names:
        until(lambda n=name: _ready(core.read_node(n)), timeout, f"node {name} Ready (kwok node-initialize)")
        core.patch_node(name, {"spec": {"taints": template.get("taints") or None}})
    return names


def create_all_pools(core: client.CoreV1Api, pools: dict[str, dict] | None = None) -> dict[str, list[str]]:
    """Every pool of node_pools.yaml (or `pools`), pool name -> node names."""
    return {name: create_pool(core, name, template) for name, template in (pools or load_pools()).items()}


def _ready(node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])


def register_node(core: client.CoreV1Api, name: str, capacity: dict | None = None) -> str:
    """A node that kwok does not run (no kwok annotation): the test is its kubelet. It reports Ready once, as a
    kubelet does when it starts, and loses the `not-ready` taint as create_pool's nodes do; its pods stay as the
    test writes them (kubelet.FakeKubelet.start), and a deleted pod stays until the test ends it, as on a node
    whose kubelet is gone (kubelet.node_lost)."""
    capacity = {k: str(v) for k, v in (capacity or load_pools_defaults()).items()}
    core.create_node({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                            POOL_LABEL: "own-kubelet"}},
                      "status": {"capacity": capacity, "allocatable": capacity}})
    core.patch_node_status(name, {"status": {"conditions": [_ready_condition("True", "KubeletReady",
                                                                             "kubelet is posting ready status")]}})
    core.patch_node(name, {"spec": {"taints": None}})
    return name


def load_pools_defaults(path: Path = POOLS_FILE) -> dict:
    """The default capacity of node_pools.yaml."""
    return yaml.safe_load(path.read_text()).get("defaults", {}).get("capacity", {})


def node_lost(core: client.CoreV1Api, name: str) -> None:
    """What the node-lifecycle controller writes once a node's kubelet stops posting its status (its grace
    period over): Ready Unknown (k/k pkg/controller/nodelifecycle, `NodeStatusUnknown`)."""
    core.patch_node_status(name, {"status": {"conditions": [_ready_condition(
        "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")]}})


def _ready_condition(status: str, reason: str, message: str) -> dict:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": "Ready", "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": now}
