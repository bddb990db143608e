"""The kubelet states the tests write are ones the real apiserver stores and the real controllers count:
the fixtures `launch status`, `logs` and `doctor` will be tested against."""

import pytest

from tests.cluster.kubelet import manual
from tests.cluster.objects import create, run_objects, submit
from tests.cluster.wait import until

pytestmark = pytest.mark.cluster


def _manual_run(kube, namespace: str) -> str:
    """A one-pod run whose pod kwok leaves Pending on its node, for the test to drive."""
    objects = run_objects("quickstart.yaml", namespace, "resources.nodes=1")
    create(kube.api, objects["ConfigMap"])
    return create(kube.api, manual(objects["Job"])).metadata.name


def _scheduled(kube, kubelet, job: str):
    return until(lambda: next((p for p in kubelet.pods(job) if p.spec.node_name), None), 30, "a scheduled pod")


def _waiting(kube, namespace: str, pod):
    status = kube.core.read_namespaced_pod(pod.metadata.name, namespace).status
    return status.phase, status.container_statuses[0].state.waiting


def _kubelet_events(kube, namespace: str, pod) -> list[tuple[str, str]]:
    events = kube.core.list_namespaced_event(namespace, field_selector=f"involvedObject.uid={pod.metadata.uid}")
    return [(e.reason, e.message) for e in events.items if e.source.component == "kubelet"]


def test_an_image_pull_failure_then_back_off_keeps_the_pod_pending_and_not_ready(kube, namespace, kubelet):
    job = _manual_run(kube, namespace)
    pod = _scheduled(kube, kubelet, job)
    kubelet.image_pull_failing(pod)
    phase, waiting = _waiting(kube, namespace, pod)
    assert (phase, waiting.reason) == ("Pending", "ErrImagePull")
    assert waiting.message.startswith("rpc error: code = NotFound desc = failed to pull and unpack image")
    kubelet.image_pull_failing(pod, backed_off=True)
    phase, waiting = _waiting(kube, namespace, pod)
    assert (phase, waiting.reason, waiting.message) == \
        ("Pending", "ImagePullBackOff", f'Back-off pulling image "{pod.spec.containers[0].image}"')
    assert ("Failed", "Error: ImagePullBackOff") in _kubelet_events(kube, namespace, pod)
    status = until(lambda: (s := kube.batch.read_namespaced_job(job, namespace).status).active and s, 30,
                   "the Job controller to count the pod active")
    assert (status.active, status.ready, status.failed) == (1, 0, None)


def test_a_missing_secret_is_a_create_container_config_error(kube, namespace, kubelet):
    job = _manual_run(kube, namespace)
    pod = _scheduled(kube, kubelet, job)
    kubelet.config_error(pod, "s3-credentials")
    phase, waiting = _waiting(kube, namespace, pod)
    assert (phase, waiting.reason, waiting.message) == \
        ("Pending", "CreateContainerConfigError", 'secret "s3-credentials" not found')
    assert ("Failed", 'Error: secret "s3-credentials" not found') in _kubelet_events(kube, namespace, pod)


def test_an_oom_kill_is_stored_as_written_and_counted_as_a_failure(kube, namespace, kubelet):
    job = submit(kube.api, run_objects("quickstart.yaml", namespace, "resources.nodes=1")).metadata.name
    kubelet.oom_kill(kubelet.running(job, 0))
    until(lambda: kube.batch.read_namespaced_job(job, namespace).status.failed == 1, 30,
          "the Job controller to count the OOM kill")
    pod = kubelet.pods(job, 0)[0]
    terminated = pod.status.container_statuses[0].state.terminated
    assert (pod.status.phase, terminated.exit_code, terminated.reason) == ("Failed", 137, "OOMKilled")
    assert pod.status.container_statuses[0].state.running is None


def test_a_termination_message_reaches_the_api(kube, namespace, kubelet):
    job = submit(kube.api, run_objects("quickstart.yaml", namespace, "resources.nodes=1")).metadata.name
    kubelet.succeed(kubelet.running(job, 0), message='{"committed_step": 120, "accuracy": 0.84}')
    pod = kubelet.pods(job, 0)[0]
    terminated = pod.status.container_statuses[0].state.terminated
    assert (pod.status.phase, terminated.exit_code, terminated.reason) == ("Succeeded", 0, "Completed")
    assert terminated.message == '{"committed_step": 120, "accuracy": 0.84}'


def test_a_node_shutdown_leaves_the_kubelets_disruption_condition_and_reason(kube, namespace, kubelet):
    job = submit(kube.api, run_objects("quickstart.yaml", namespace, "resources.nodes=1")).metadata.name
    kubelet.shut_down_node(kubelet.running(job, 0))
    pod = kubelet.pods(job, 0)[0]
    disruption = next(c for c in pod.status.conditions if c.type == "DisruptionTarget")
    assert (disruption.status, disruption.reason) == ("True", "TerminationByKubelet")
    assert (pod.status.phase, pod.status.reason, pod.status.message) == \
        ("Failed", "Terminated", "Pod was terminated in response to imminent node shutdown.")
    assert pod.status.container_statuses[0].state.terminated.exit_code == 75
