"""Acting as the kubelet: write the pod states a real kubelet writes, so the real controllers react to them.

kwok (kwok_stages.yaml) brings scheduled pods to Running and terminates deleted ones; everything a workload
decides (exit codes, OOM, a spot notice) is written here, with the shapes listed in
shared/reference/kubernetes-run-status.md (section 2). Pods annotated `kubetrain.test/kubelet: manual`
(see `manual`) are left Pending by kwok so a test can hold them in an image-pull or config error.
"""

from datetime import datetime, timezone

from kubernetes import client

from launcher.schema import EXIT_REQUEUE
from launcher.schema.contract import CONTAINER_NAME

from .wait import until

MANUAL_ANNOTATION = "kubetrain.test/kubelet"
NODE_SHUTDOWN = "Pod was terminated in response to imminent node shutdown."
OOM_EXIT = 137


def manual(job: dict) -> dict:
    """Mark a rendered Job so kwok leaves its pods Pending for the test to drive."""
    job["spec"]["template"]["metadata"].setdefault("annotations", {})[MANUAL_ANNOTATION] = "manual"
    return job


class FakeKubelet:
    """Status writes for the pods of one namespace, as the node's kubelet would make them."""

    def __init__(self, core: client.CoreV1Api, namespace: str):
        self.core = core
        self.namespace = namespace

    # Finding pods -------------------------------------------------------------------------------------------
    def pods(self, job: str, index: int | None = None) -> list[client.V1Pod]:
        """The Job's pods (of one completion index if given), oldest first."""
        selector = f"batch.kubernetes.io/job-name={job}"
        if index is not None:
            selector += f",batch.kubernetes.io/job-completion-index={index}"
        items = self.core.list_namespaced_pod(self.namespace, label_selector=selector).items
        return sorted(items, key=lambda p: p.metadata.creation_timestamp)

    def running(self, job: str, index: int, timeout: float = 30) -> client.V1Pod:
        """Wait for the index's live pod to be Running (kwok's pod-ready) and return it."""
        def live():
            return next((p for p in self.pods(job, index)
                         if p.status.phase == "Running" and not p.metadata.deletion_timestamp), None)
        return until(live, timeout, f"a Running pod of {self.namespace}/{job} index {index}")

    def start(self, pod: client.V1Pod) -> None:
        """The container starts and is ready: pod Running (what kwok's pod-ready stage writes on its nodes; for
        pods on a node of the test's own, nodes.register_node)."""
        now = _now()
        conditions = [{"type": t, "status": "True", "lastTransitionTime": now}
                      for t in ("Initialized", "Ready", "ContainersReady")]
        self._patch(pod, {"phase": "Running", "startTime": now, "conditions": conditions,
                          "containerStatuses": [self._container(pod, {"running": {"startedAt": now}}, ready=True)]})

    # Terminal states ----------------------------------------------------------------------------------------
    def succeed(self, pod: client.V1Pod, message: str = "") -> None:
        """The container exits 0: reason Completed, pod Succeeded."""
        self._terminate(pod, "Succeeded", {"exitCode": 0, "reason": "Completed"}, message)

    def exit(self, pod: client.V1Pod, code: int, message: str = "") -> None:
        """The container exits with `code` (not 0): reason Error, pod Failed."""
        if code == 0:
            raise ValueError("exit code 0 is a success: use succeed()")
        self._terminate(pod, "Failed", {"exitCode": code, "reason": "Error"}, message)

    def oom_kill(self, pod: client.V1Pod) -> None:
        """The kernel OOM-kills the container: exit 137, reason OOMKilled, no pod event."""
        self._terminate(pod, "Failed", {"exitCode": OOM_EXIT, "reason": "OOMKilled"}, "")

    def shut_down_node(self, pod: client.V1Pod, exit_code: int = EXIT_REQUEUE, message: str = "") -> None:
        """A spot notice handled by graceful node shutdown: DisruptionTarget, then the container's own exit.

        The kubelet's node-shutdown manager writes the condition and the pod's reason and message in the same
        status update that makes the pod Failed; our trainer answers SIGTERM with the requeue code.
        """
        disruption = {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                      "message": NODE_SHUTDOWN, "lastTransitionTime": _now()}
        self._terminate(pod, "Failed", {"exitCode": exit_code, "reason": "Error"}, message,
                        extra_conditions=[disruption], pod_reason=("Terminated", NODE_SHUTDOWN))

    # Waiting states (pods made with `manual`) ---------------------------------------------------------------
    def image_pull_failing(self, pod: client.V1Pod, backed_off: bool = False) -> None:
        """The image cannot be pulled: ErrImagePull, then ImagePullBackOff, with the kubelet's events."""
        image = pod.spec.containers[0].image
        error = f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": not found'
        if backed_off:
            self._wait(pod, "ImagePullBackOff", f'Back-off pulling image "{image}"')
            self.event(pod, "BackOff", f'Back-off pulling image "{image}"')
            self.event(pod, "Failed", "Error: ImagePullBackOff")
        else:
            self._wait(pod, "ErrImagePull", error)
            self.event(pod, "Failed", f'Failed to pull image "{image}": {error}')
            self.event(pod, "Failed", "Error: ErrImagePull")

    def config_error(self, pod: client.V1Pod, secret: str) -> None:
        """A Secret the container needs is missing: CreateContainerConfigError."""
        self._wait(pod, "CreateContainerConfigError", f'secret "{secret}" not found')
        self.event(pod, "Failed", f'Error: secret "{secret}" not found')

    def event(self, pod: client.V1Pod, reason: str, message: str, type_: str = "Warning") -> None:
        """An event about the pod's container, from the kubelet (core/v1, legacy recorder fields)."""
        now = _now()
        self.core.create_namespaced_event(self.namespace, {
            "metadata": {"generateName": f"{pod.metadata.name}."},
            "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": self.namespace,
                               "name": pod.metadata.name, "uid": pod.metadata.uid,
                               "fieldPath": f"spec.containers{{{CONTAINER_NAME}}}"},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": "kubelet", "host": pod.spec.node_name},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
        })

    # Status writes ------------------------------------------------------------------------------------------
    def _terminate(self, pod, phase: str, state: dict, message: str, extra_conditions=(), pod_reason=None):
        now = _now()
        started = _started_at(pod) or now
        terminated = {**state, "startedAt": started, "finishedAt": now, **({"message": message} if message else {})}
        conditions = [{"type": t, "status": "False", "reason": "PodCompleted", "lastTransitionTime": now}
                      for t in ("Ready", "ContainersReady")]
        merged = _merge_conditions(self.core.api_client, pod, [*conditions, *extra_conditions])
        status = {"phase": phase, "conditions": merged,
                  "containerStatuses": [self._container(pod, {"terminated": terminated}, ready=False)]}
        if pod_reason:
            status["reason"], status["message"] = pod_reason
        self._patch(pod, status)

    def _wait(self, pod, reason: str, message: str) -> None:
        waiting = {"waiting": {"reason": reason, "message": message}}
        self._patch(pod, {"containerStatuses": [self._container(pod, waiting, ready=False)]})

    def _container(self, pod, state: dict, ready: bool) -> dict:
        container = pod.spec.containers[0]
        return {"name": container.name, "image": container.image, "imageID": "", "ready": ready,
                "restartCount": 0, "started": False, "state": state}

    def _patch(self, pod, status: dict) -> None:
        # A JSON merge patch replaces lists whole, so a container has exactly one state afterwards (a strategic
        # merge would keep `running` next to the new `terminated`).
        self.core.patch_namespaced_pod_status(pod.metadata.name, self.namespace, {"status": status},
                                              _content_type="application/merge-patch+json")


def _merge_conditions(api: client.ApiClient, pod, updates: list[dict]) -> list[dict]:
    """The pod's conditions with `updates` replacing those of the same type."""
    current = api.sanitize_for_serialization(pod.status.conditions or [])
    new_types = {c["type"] for c in updates}
    return [c for c in current if c["type"] not in new_types] + updates


def _started_at(pod) -> str | None:
    for status in pod.status.container_statuses or []:
        if status.state and status.state.running and status.state.running.started_at:
            return status.state.running.started_at.isoformat().replace("+00:00", "Z")
    return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
