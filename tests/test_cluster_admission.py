"""The real kube-apiserver accepts what we render, and its validation and admission are really at work."""

import json

import pytest
from kubernetes import client

from tests.cluster.namespaces import MANIFESTS, kustomization_objects
from tests.cluster.objects import CONFIGS, create, run_objects
from tests.cluster.wait import exists, until

pytestmark = pytest.mark.cluster

SHIPPED = sorted(path.name for path in CONFIGS.glob("*.yaml"))


def _reader(api: client.ApiClient, kind: str):
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    return {"ConfigMap": core.read_namespaced_config_map, "Service": core.read_namespaced_service,
            "Job": batch.read_namespaced_job}[kind]


@pytest.mark.parametrize("config", SHIPPED)
def test_dry_run_all_accepts_every_object_and_stores_nothing(kube, namespace, config):
    objects = run_objects(config, namespace)
    for kind, obj in objects.items():
        returned = create(kube.api, obj, dry_run=True)
        assert returned.metadata.name == obj["metadata"]["name"]
        assert not exists(_reader(kube.api, kind), obj["metadata"]["name"], namespace), f"dry run stored {kind}"


@pytest.mark.parametrize("config", SHIPPED)
def test_every_object_is_created_and_the_job_controller_pods_pass_admission(kube, namespace, config):
    objects = run_objects(config, namespace)
    for obj in objects.values():
        create(kube.api, obj)
    job = kube.batch.read_namespaced_job(objects["Job"]["metadata"]["name"], namespace)
    # Strict field validation accepted every field; the stored policy is the one we rendered, field for field.
    assert kube.api.sanitize_for_serialization(job.spec.pod_failure_policy) == \
        objects["Job"]["spec"]["podFailurePolicy"]
    if job.spec.suspend:  # queued for Kueue: no pods until it is admitted
        return
    # Pods are created by the Job controller and pass restricted Pod Security, ServiceAccount and Priority.
    selector = f"batch.kubernetes.io/job-name={job.metadata.name}"
    pods = until(lambda: (p := kube.core.list_namespaced_pod(namespace, label_selector=selector).items)
                 and len(p) == job.spec.parallelism and p, 30, f"{job.spec.parallelism} pods of {config}")
    assert sorted(p.metadata.labels["batch.kubernetes.io/job-completion-index"] for p in pods) == \
        [str(i) for i in range(job.spec.parallelism)]


def test_the_apiserver_rejects_a_service_named_with_an_underscore_in_its_own_words(kube, namespace):
    service = run_objects("bert.yaml", namespace)["Service"]
    name = service["metadata"]["name"] = service["metadata"]["name"].replace("-", "_", 1)
    with pytest.raises(client.ApiException) as raised:
        create(kube.api, service)
    status = json.loads(raised.value.body)
    assert (raised.value.status, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        f'Service "{name}" is invalid: metadata.name: Invalid value: "{name}": a lowercase RFC 1123 label must '
        "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")


def test_a_service_name_may_start_with_a_digit_on_1_37(kube, namespace):
    """Relaxed Service name validation (RFC 1123, not 1035) is on in 1.37: the issue's example of a broken
    object is valid now. Pinned so a version bump that changes it is noticed."""
    service = run_objects("bert.yaml", namespace)["Service"]
    service["metadata"]["name"] = "1-" + service["metadata"]["name"]
    assert create(kube.api, service).metadata.name == service["metadata"]["name"]


def test_restricted_pod_security_refuses_pods_of_a_template_that_adds_a_capability(kube, namespace):
    job = run_objects("quickstart.yaml", namespace)["Job"]
    job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"]["add"] = ["SYS_ADMIN"]
    created = create(kube.api, job)
    event = until(lambda: next((e for e in kube.core.list_namespaced_event(namespace).items
                                if e.involved_object.name == created.metadata.name
                                and e.reason == "FailedCreate"), None), 30, "a FailedCreate event")
    assert 'violates PodSecurity "restricted:latest": unrestricted capabilities' in event.message


def test_the_static_manifests_are_accepted_without_kueue_and_the_queue_is_an_overlay_of_its_own(kube):
    """`kubectl apply -k manifests/` works on a cluster without Kueue (no CRDs here); the queue is
    `kubectl apply -k manifests/kueue/`."""
    objects = kustomization_objects()
    assert not [o for o in objects if o["apiVersion"].startswith("kueue.x-k8s.io/")]
    queues = kustomization_objects(MANIFESTS / "kueue")
    assert {o["kind"] for o in queues} == {"ResourceFlavor", "ClusterQueue", "LocalQueue"}
    try:
        for obj in objects:
            if obj["kind"] != "PriorityClass":
                create(kube.api, obj)
        # The session created the PriorityClass from this same manifest (the configs' pods need it).
        (priority,) = [o for o in objects if o["kind"] == "PriorityClass"]
        stored = client.SchedulingV1Api(kube.api).read_priority_class(priority["metadata"]["name"])
        assert (stored.value, stored.preemption_policy) == (priority["value"], priority["preemptionPolicy"])
        claims = kube.core.list_namespaced_persistent_volume_claim("training").items
        assert sorted(c.metadata.name for c in claims) == ["checkpoints", "datasets", "models"]
    finally:
        kube.core.delete_namespace("training", propagation_policy="Background")
