"""The real kube-scheduler puts each config's pods on the pool its presets target (node_pools.yaml)."""

import pytest

from tests.cluster.nodes import POOL_LABEL
from tests.cluster.objects import run_objects, submit
from tests.cluster.wait import until

pytestmark = pytest.mark.cluster

MIG_SINGLE = ("resources.gpu.mig_strategy=single", "resources.gpu.mig_profile=3g.40gb",
              "resources.gpu.product=NVIDIA-H100-80GB-HBM3")

PLACEMENTS = [
    ("bert.yaml", (), "gke-spot"),
    ("bert.yaml", ("scheduling.spot=eks",), "eks-spot"),
    ("bert.yaml", ("scheduling.spot=karpenter",), "karpenter-spot"),
    ("bert.yaml", ("scheduling.spot=aks",), "aks-spot"),
    ("bert-mig.yaml", (), "mig-mixed"),
    ("bert-mig.yaml", MIG_SINGLE, "mig-single"),
    ("bert-shared-gpu.yaml", (), "time-sliced"),
    ("quickstart.yaml", (), "cpu"),
]


def _pods(kube, namespace: str, job: str):
    return kube.core.list_namespaced_pod(namespace, label_selector=f"batch.kubernetes.io/job-name={job}").items


@pytest.mark.parametrize(("config", "overrides", "pool"), PLACEMENTS,
                         ids=[f"{c}{''.join(' ' + o for o in s)}->{p}" for c, s, p in PLACEMENTS])
def test_every_pod_lands_on_the_targeted_pool(kube, namespace, config, overrides, pool):
    objects = run_objects(config, namespace, *overrides)
    job = submit(kube.api, objects)
    nodes = job.spec.parallelism

    def placed():
        pods = _pods(kube, namespace, job.metadata.name)
        return len(pods) == nodes and all(p.spec.node_name for p in pods) and pods

    pods = until(placed, 30, f"{nodes} scheduled pods of {config} {overrides}")
    pools = {kube.core.read_node(p.spec.node_name).metadata.labels[POOL_LABEL] for p in pods}
    assert pools == {pool}


def test_a_gpu_product_no_node_has_stays_pending_with_the_schedulers_reason(kube, namespace):
    # EKS: GPU nodes carry the device plugin's nvidia.com/gpu.product label, which the product selects on.
    objects = run_objects("bert.yaml", namespace, "scheduling.spot=eks", "resources.gpu.product=NVIDIA-B200")
    job = submit(kube.api, objects)
    total_nodes = sum(len(names) for names in kube.pools.values())

    def failed_scheduling():
        events = kube.core.list_namespaced_event(namespace, field_selector="reason=FailedScheduling").items
        return events and events[0]

    event = until(failed_scheduling, 30, "a FailedScheduling event")
    assert event.type == "Warning" and event.reporting_component == "default-scheduler"
    assert event.message.startswith(f"0/{total_nodes} nodes are available: ")
    assert "node(s) didn't match Pod's node affinity/selector" in event.message
    pod = kube.core.read_namespaced_pod(event.involved_object.name, namespace)
    scheduled = next(c for c in pod.status.conditions if c.type == "PodScheduled")
    assert (pod.status.phase, scheduled.status, scheduled.reason) == ("Pending", "False", "Unschedulable")
    assert pod.spec.node_name is None and pod.metadata.labels["batch.kubernetes.io/job-name"] == job.metadata.name
