"""Issue 10, example 5, with the real kube-scheduler: on GKE, MIG partitions and time-shared GPUs are advertised
as nvidia.com/gpu on nodes labelled with the partition size or the sharing strategy. A pod rendered for GKE lands
there; the NVIDIA device plugin's resource names, which GKE never advertises, leave the pod Pending."""

import secrets

import pytest

from tests.cluster.nodes import POOL_LABEL, create_pool
from tests.cluster.objects import run_objects, submit
from tests.cluster.wait import until

pytestmark = pytest.mark.cluster

GKE_GPU_NODE = {
    "labels": {"cloud.google.com/gke-spot": "true", "cloud.google.com/gke-accelerator": "nvidia-tesla-a100"},
    "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
               {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NoSchedule"}],
}
POOLS = {
    # A GKE node pool with --accelerator ...,gpu-partition-size=1g.10gb: 7 partitions per A100 as nvidia.com/gpu.
    "mig": {"labels": {"cloud.google.com/gke-gpu-partition-size": "1g.10gb"}, "gpus": "7"},
    # A GKE node pool with gpu-sharing-strategy=time-sharing,max-shared-clients-per-gpu=4.
    "shared": {"labels": {"cloud.google.com/gke-gpu-sharing-strategy": "time-sharing",
                          "cloud.google.com/gke-max-shared-clients-per-gpu": "4"}, "gpus": "4"},
}


@pytest.fixture(params=sorted(POOLS))
def gke_pool(kube, request):
    """One GKE GPU node of the kind the parameter names, removed afterwards: (kind, pool name)."""
    kind = request.param
    pool = f"gke-{kind}-{secrets.token_hex(3)}"
    template = {"count": 1, "labels": {**GKE_GPU_NODE["labels"], **POOLS[kind]["labels"]},
                "taints": GKE_GPU_NODE["taints"],
                "capacity": {"cpu": "96", "memory": "1024Gi", "pods": "110", "nvidia.com/gpu": POOLS[kind]["gpus"]}}
    (node,) = create_pool(kube.core, pool, template)
    yield kind, pool
    kube.core.delete_node(node)


def config_for(kind: str, namespace: str, *overrides: str) -> dict:
    config = "bert-mig.yaml" if kind == "mig" else "bert-shared-gpu.yaml"
    return run_objects(config, namespace, "scheduling.spot=gke", *overrides)


def test_a_pod_rendered_for_gke_lands_on_the_gke_partition_or_sharing_node(kube, namespace, gke_pool):
    kind, pool = gke_pool
    job = submit(kube.api, config_for(kind, namespace)).metadata.name

    def placed():
        pods = kube.core.list_namespaced_pod(namespace, label_selector=f"batch.kubernetes.io/job-name={job}").items
        return pods and pods[0].spec.node_name and pods[0]

    pod = until(placed, 30, f"the {kind} pod scheduled")
    assert kube.core.read_node(pod.spec.node_name).metadata.labels[POOL_LABEL] == pool
    assert pod.spec.containers[0].resources.limits["nvidia.com/gpu"] == "1"


def test_the_nvidia_device_plugins_names_stay_pending_on_gke(kube, namespace, gke_pool):
    kind, pool = gke_pool
    objects = config_for(kind, namespace, "resources.gpu.device_plugin=nvidia",
                         f"scheduling.node_selector.{POOL_LABEL}={pool}")
    submit(kube.api, objects)
    resource = "nvidia.com/mig-1g.10gb" if kind == "mig" else "nvidia.com/gpu.shared"

    def failed_scheduling():
        events = kube.core.list_namespaced_event(namespace, field_selector="reason=FailedScheduling").items
        return events and events[0]

    event = until(failed_scheduling, 30, "a FailedScheduling event")
    assert f"Insufficient {resource}" in event.message
