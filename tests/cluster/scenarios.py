"""Play a tests/job_outcomes.py scenario against the real Job controller and read back how the Job ended."""

import threading
import time

from kubernetes import client

from launcher.schema import EXIT_REQUEUE
from tests.job_outcomes import OOM, PREEMPT, Outcome, Scenario

from .kubelet import FakeKubelet
from .objects import run_objects, submit
from .wait import Timeout

INDEX_LABEL = "batch.kubernetes.io/job-completion-index"


class Stopped(Exception):
    """The caller asked a scenario in progress to stop (the test run was interrupted)."""


def play(api: client.ApiClient, namespace: str, scenario: Scenario, timeout: float = 120,
         stop: threading.Event | None = None) -> Outcome:
    """Submit quickstart.yaml's Job shaped by the scenario, end each index's pods as scripted, and return the
    outcome once the Job has a terminal condition. Setting `stop` ends it early with Stopped."""
    objects = run_objects("quickstart.yaml", namespace, f"resources.nodes={scenario.nodes}",
                          f"job.backoff_limit={scenario.backoff_limit}")
    name = submit(api, objects).metadata.name
    kubelet = FakeKubelet(client.CoreV1Api(api), namespace)
    batch = client.BatchV1Api(api)
    steps = {index: list(attempts) for index, attempts in enumerate(scenario.attempts)}
    handled: set[str] = set()
    deadline = time.monotonic() + timeout
    while not (condition := _terminal(batch.read_namespaced_job(name, namespace))):
        if stop and stop.is_set():
            raise Stopped(scenario.name)
        if time.monotonic() > deadline:
            raise Timeout(f"{scenario.name}: Job {namespace}/{name} not finished after {timeout} s; "
                          f"steps left {steps}")
        for pod in kubelet.pods(name):
            index = int(pod.metadata.labels[INDEX_LABEL])
            if pod.metadata.uid in handled or pod.status.phase != "Running" or not steps[index]:
                continue
            handled.add(pod.metadata.uid)
            _end(kubelet, pod, steps[index].pop(0))
        time.sleep(0.2)
    job = batch.read_namespaced_job(name, namespace)
    return Outcome(condition.type, condition.reason if condition.type == "Failed" else "",
                   failed=job.status.failed or 0, preemptions=_ignored(kubelet.pods(name)))


def _end(kubelet: FakeKubelet, pod: client.V1Pod, step) -> None:
    if step == PREEMPT:
        kubelet.shut_down_node(pod)
    elif step == OOM:
        kubelet.oom_kill(pod)
    elif step == 0:
        kubelet.succeed(pod)
    else:
        kubelet.exit(pod, step)


def _terminal(job: client.V1Job):
    return next((c for c in job.status.conditions or []
                 if c.type in ("Complete", "Failed") and c.status == "True"), None)


def _ignored(pods: list[client.V1Pod]) -> int:
    """Failed pods the policy's Ignore rules matched: a DisruptionTarget condition or the requeue exit code."""
    def ignored(pod) -> bool:
        disrupted = any(c.type == "DisruptionTarget" and c.status == "True" for c in pod.status.conditions or [])
        codes = [s.state.terminated.exit_code for s in pod.status.container_statuses or [] if s.state.terminated]
        return pod.status.phase == "Failed" and (disrupted or EXIT_REQUEUE in codes)
    return sum(map(ignored, pods))
