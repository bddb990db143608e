"""What the real Job controller, garbage collector and TTL controller do with the rendered Job: the details
behind tests/job_outcomes.py (replacement identity, condition texts, owner references)."""

import pytest
from kubernetes import client

from tests.cluster.objects import run_objects, submit
from tests.cluster.wait import exists, until

pytestmark = pytest.mark.cluster

INDEX = "batch.kubernetes.io/job-completion-index"


def _condition(kube, namespace: str, job: str, type_: str):
    """The Job's condition of `type_` once it is True."""
    def found():
        conditions = kube.batch.read_namespaced_job(job, namespace).status.conditions or []
        return next((c for c in conditions if c.type == type_ and c.status == "True"), None)
    return until(found, 60, f"Job {namespace}/{job} condition {type_}")


def test_a_preempted_pods_replacement_keeps_its_index_hostname_and_subdomain(kube, namespace, kubelet):
    job = submit(kube.api, run_objects("quickstart.yaml", namespace)).metadata.name
    first = kubelet.running(job, 1)
    kubelet.shut_down_node(first)
    # The controller waits its pod-failure backoff (10 s for a first failure) before replacing.
    second = until(lambda: next((p for p in kubelet.pods(job, 1) if p.metadata.uid != first.metadata.uid), None),
                   40, "a replacement pod for index 1")
    assert second.metadata.labels[INDEX] == first.metadata.labels[INDEX] == "1"
    assert second.spec.hostname == first.spec.hostname == f"{job}-1"
    assert second.spec.subdomain == job
    assert not kube.batch.read_namespaced_job(job, namespace).status.failed


def test_an_eviction_through_the_api_is_ignored_by_the_policy(kube, namespace, kubelet):
    """The apiserver's Eviction API writes the DisruptionTarget itself; kwok then ends the container with
    143, which the policy would count as a crash without that condition."""
    job = submit(kube.api, run_objects("quickstart.yaml", namespace, "resources.nodes=1")).metadata.name
    pod = kubelet.running(job, 0)
    kube.core.create_namespaced_pod_eviction(pod.metadata.name, namespace, client.V1Eviction(
        metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace=namespace)))
    until(lambda: any(p.metadata.uid != pod.metadata.uid for p in kubelet.pods(job, 0)), 40,
          "a replacement for the evicted pod")
    assert not kube.batch.read_namespaced_job(job, namespace).status.failed


def test_exit_2_fails_the_job_with_the_controllers_pod_failure_policy_message(kube, namespace, kubelet):
    job = submit(kube.api, run_objects("quickstart.yaml", namespace)).metadata.name
    pod = kubelet.running(job, 0)
    kubelet.running(job, 1)
    kubelet.exit(pod, 2, message="data.train: no such file")
    failed = _condition(kube, namespace, job, "Failed")
    expected = f"Container trainer for pod {namespace}/{pod.metadata.name} failed with exit code 2 matching " \
               "FailJob rule at index 2"
    assert (failed.reason, failed.message) == ("PodFailurePolicy", expected)
    status = kube.batch.read_namespaced_job(job, namespace).status
    # Since 1.31 FailureTarget comes first; Failed only once the other index's pod has terminated too.
    assert [c.type for c in status.conditions] == ["FailureTarget", "Failed"]
    # The other index's pod, deleted by the controller when the Job failed, is counted as failed too.
    assert (status.active, status.failed, status.terminating) == (None, 2, 0)


def test_all_indexes_succeeding_complete_the_job_with_the_real_reason(kube, namespace, kubelet):
    job = submit(kube.api, run_objects("quickstart.yaml", namespace)).metadata.name
    for index in (0, 1):
        kubelet.succeed(kubelet.running(job, index), message='{"step": 120}')
    complete = _condition(kube, namespace, job, "Complete")
    assert (complete.reason, complete.message) == ("CompletionsReached", "Reached expected number of succeeded pods")
    status = kube.batch.read_namespaced_job(job, namespace).status
    assert (status.succeeded, status.completed_indexes) == (2, "0,1")
    assert status.completion_time is not None


def test_deleting_the_job_removes_its_owned_config_map_and_service(kube, namespace):
    objects = run_objects("quickstart.yaml", namespace)
    job = submit(kube.api, objects).metadata.name
    config_map, service = objects["ConfigMap"]["metadata"]["name"], objects["Service"]["metadata"]["name"]
    assert exists(kube.core.read_namespaced_config_map, config_map, namespace)
    kube.batch.delete_namespaced_job(job, namespace, propagation_policy="Background")
    until(lambda: not exists(kube.core.read_namespaced_config_map, config_map, namespace), 30,
          "the garbage collector to delete the ConfigMap")
    until(lambda: not exists(kube.core.read_namespaced_service, service, namespace), 30,
          "the garbage collector to delete the Service")
    until(lambda: not kube.core.list_namespaced_pod(namespace).items, 30, "the Job's pods to be gone")


def test_a_finished_job_is_removed_after_its_ttl_with_what_it_owns(kube, namespace, kubelet):
    objects = run_objects("quickstart.yaml", namespace, "resources.nodes=1", "job.ttl_seconds_after_finished=1")
    job = submit(kube.api, objects).metadata.name
    kubelet.succeed(kubelet.running(job, 0))
    until(lambda: not exists(kube.batch.read_namespaced_job, job, namespace), 30, "the TTL controller")
    until(lambda: not exists(kube.core.read_namespaced_config_map, objects["ConfigMap"]["metadata"]["name"],
                             namespace), 30, "the garbage collector to delete the ConfigMap")


def test_a_queued_job_waits_suspended_and_starts_when_unsuspended(kube, namespace, kubelet):
    """What Kueue's admission does to the Job, done by hand: the controller's own conditions and events."""
    job = submit(kube.api, run_objects("quickstart.yaml", namespace, "scheduling.queue=training")).metadata.name
    suspended = _condition(kube, namespace, job, "Suspended")
    assert (suspended.reason, suspended.message) == ("JobSuspended", "Job suspended")
    assert not kubelet.pods(job)
    kube.batch.patch_namespaced_job(job, namespace, {"spec": {"suspend": False}})
    kubelet.running(job, 0)
    resumed = next(c for c in kube.batch.read_namespaced_job(job, namespace).status.conditions
                   if c.type == "Suspended")
    assert (resumed.status, resumed.reason, resumed.message) == ("False", "JobResumed", "Job resumed")
    events = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={job}").items
    assert {("Suspended", "Job suspended"), ("Resumed", "Job resumed")} <= {(e.reason, e.message) for e in events}
