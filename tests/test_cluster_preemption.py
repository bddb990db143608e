"""The real scheduler preempts a training pod for a higher-priority pod, and the real Job controller treats
the victim as a disruption (DisruptionTarget -> Ignore), not as a crash."""

import secrets

import pytest
from kubernetes import client, watch

from tests.cluster.nodes import POOL_LABEL, create_pool
from tests.cluster.objects import run_objects, submit
from tests.cluster.wait import until

pytestmark = pytest.mark.cluster

PREEMPTION_MESSAGE = "default-scheduler: preempting to accommodate a higher priority pod"


@pytest.fixture
def one_cpu_pool(kube):
    """A pool of one node with room for exactly one quickstart pod (1 CPU), removed afterwards."""
    pool = f"tiny-{secrets.token_hex(3)}"
    (node,) = create_pool(kube.core, pool, {"count": 1, "capacity": {"cpu": "1", "memory": "8Gi", "pods": "10"}})
    yield pool
    kube.core.delete_node(node)


@pytest.fixture
def urgent_priority(kube):
    """A PriorityClass above training-preemptible that may preempt (the default policy)."""
    name = f"urgent-{secrets.token_hex(3)}"
    client.SchedulingV1Api(kube.api).create_priority_class({"metadata": {"name": name}, "value": 1_000_000})
    yield name
    client.SchedulingV1Api(kube.api).delete_priority_class(name)


def _urgent_pod(pool: str, priority: str) -> dict:
    """A pod that needs the pool's only CPU, and passes the restricted Pod Security Standard."""
    security = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    return {"metadata": {"name": "urgent"},
            "spec": {"priorityClassName": priority, "nodeSelector": {POOL_LABEL: pool},
                     "containers": [{"name": "serve", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "1"}}, "securityContext": security}]}}


def _disruption(pod: client.V1Pod):
    return next((c for c in pod.status.conditions or [] if c.type == "DisruptionTarget"), None)


def test_a_scheduler_preemption_is_a_disruption_the_job_ignores(kube, namespace, kubelet, one_cpu_pool,
                                                                 urgent_priority):
    objects = run_objects("quickstart.yaml", namespace, "resources.nodes=1",
                          f'scheduling.node_selector={{"{POOL_LABEL}": "{one_cpu_pool}"}}')
    job = submit(kube.api, objects).metadata.name
    victim = kubelet.running(job, 0)
    listed = kube.core.list_namespaced_pod(namespace)
    kube.core.create_namespaced_pod(namespace, _urgent_pod(one_cpu_pool, urgent_priority))
    # Watch from before the preemption: the victim is gone a moment after the scheduler marks it.
    stream = watch.Watch().stream(kube.core.list_namespaced_pod, namespace, timeout_seconds=30,
                                  resource_version=listed.metadata.resource_version)
    marked = next(e["object"] for e in stream if e["object"].metadata.uid == victim.metadata.uid
                  and _disruption(e["object"]))
    condition = _disruption(marked)
    assert (condition.status, condition.reason, condition.message) == \
        ("True", "PreemptionByScheduler", PREEMPTION_MESSAGE)
    until(lambda: kube.core.read_namespaced_pod("urgent", namespace).spec.node_name, 30,
          "the urgent pod to take the node")
    until(lambda: any(p.metadata.uid != victim.metadata.uid for p in kubelet.pods(job, 0)), 30,
          "the Job controller to create a replacement (it waits for the node like the victim did)")
    assert not kube.batch.read_namespaced_job(job, namespace).status.failed
