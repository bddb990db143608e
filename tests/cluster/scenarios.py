"""Play a tests/job_outcomes.py scenario against the real Job controller and read back how the Job ended."""

import threading
import time
from dataclasses import dataclass, field

from kubernetes import client

from launcher.schema import EXIT_OK, EXIT_REQUEUE
from tests.job_outcomes import OOM, Notice, Outcome, Scenario, StaggeredLoss

from .kubelet import FakeKubelet
from .objects import run_objects, submit
from .wait import Timeout

INDEX_LABEL = "batch.kubernetes.io/job-completion-index"


class Stopped(Exception):
    """The caller asked a scenario in progress to stop (the test run was interrupted)."""


@dataclass
class Played:
    """How a scenario ended, and how long the controller took to replace each failed pod (seconds, in order)."""

    outcome: Outcome
    delays: list[float] = field(default_factory=list)


def play(api: client.ApiClient, namespace: str, scenario: Scenario, timeout: float = 120,
         stop: threading.Event | None = None) -> Played:
    """Submit quickstart.yaml's Job shaped by the scenario, end each index's pods as scripted, and return the
    outcome once the Job has a terminal condition. Setting `stop` ends it early with Stopped."""
    objects = run_objects("quickstart.yaml", namespace, f"resources.nodes={scenario.nodes}",
                          f"job.backoff_limit={scenario.backoff_limit}")
    name = submit(api, objects).metadata.name
    driver = _Driver(FakeKubelet(client.CoreV1Api(api), namespace), name, scenario)
    batch = client.BatchV1Api(api)
    deadline = time.monotonic() + timeout
    while not (condition := _terminal(batch.read_namespaced_job(name, namespace))):
        if stop and stop.is_set():
            raise Stopped(scenario.name)
        if time.monotonic() > deadline:
            raise Timeout(f"{scenario.name}: Job {namespace}/{name} not finished after {timeout} s; "
                          f"steps left {driver.steps}")
        driver.tick()
        time.sleep(0.2)
    job = batch.read_namespaced_job(name, namespace)
    outcome = Outcome(condition.type, condition.reason if condition.type == "Failed" else "",
                      failed=job.status.failed or 0, preemptions=_ignored(driver.kubelet.pods(name)))
    return Played(outcome, driver.delays)


class _Driver:
    """Ends each index's Running pods as the scenario scripts, timing how soon failed ones are replaced."""

    def __init__(self, kubelet: FakeKubelet, job: str, scenario: Scenario):
        self.kubelet, self.job = kubelet, job
        self.steps = {index: list(attempts) for index, attempts in enumerate(scenario.attempts)}
        self.seen: set[str] = set()
        self.ended: set[str] = set()
        self.failed_at: dict[int, float] = {}  # index -> when its last pod failed, until a new one appears
        self.delays: list[float] = []

    def tick(self) -> None:
        """One look at the Job's pods: time new ones, end Running ones that have a step left."""
        for pod in self.kubelet.pods(self.job):
            uid, index = pod.metadata.uid, int(pod.metadata.labels[INDEX_LABEL])
            if uid not in self.seen:
                self.seen.add(uid)
                if index in self.failed_at:
                    self.delays.append(time.monotonic() - self.failed_at.pop(index))
            if uid in self.ended or pod.status.phase != "Running" or not self.steps[index]:
                continue
            self.ended.add(uid)
            step = self.steps[index].pop(0)
            _end(self.kubelet, pod, step)
            if step != EXIT_OK:
                self.failed_at[index] = time.monotonic()


def play_staggered(api: client.ApiClient, namespace: str, loss: StaggeredLoss, timeout: float = 120) -> list[float]:
    """A two-index run: end index 0's pod with `loss.code`, index 1's `loss.gap` seconds later; return how long
    after the second failure each index's replacement pod appeared (seconds, index order)."""
    objects = run_objects("quickstart.yaml", namespace, "resources.nodes=2")
    name = submit(api, objects).metadata.name
    kubelet = FakeKubelet(client.CoreV1Api(api), namespace)
    first = [kubelet.running(name, index) for index in (0, 1)]
    kubelet.exit(first[0], loss.code)
    time.sleep(loss.gap)
    kubelet.exit(first[1], loss.code)
    second_loss, replaced = time.monotonic(), {}
    deadline = second_loss + timeout
    while len(replaced) < 2:
        if time.monotonic() > deadline:
            raise Timeout(f"{namespace}/{name}: replacements seen so far {replaced}")
        for pod in kubelet.pods(name):
            index = int(pod.metadata.labels[INDEX_LABEL])
            if pod.metadata.uid != first[index].metadata.uid and index not in replaced:
                replaced[index] = time.monotonic() - second_loss
        time.sleep(0.2)
    return [replaced[0], replaced[1]]


def _end(kubelet: FakeKubelet, pod: client.V1Pod, step) -> None:
    if isinstance(step, Notice):
        kubelet.shut_down_node(pod, exit_code=step.exit_code)
    elif step == OOM:
        kubelet.oom_kill(pod)
    elif step == EXIT_OK:
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
