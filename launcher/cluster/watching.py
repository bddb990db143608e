"""Keeping an up-to-date view of a run's pods: list once, then watch, resuming from the last resourceVersion.

A watch that breaks off resumes from the newest resourceVersion it saw (after a backoff); a watch the server
answers with 410 Gone (`ERROR` event, code 410: the version was compacted away) re-lists and watches from
the list's version, as the client's own Watch docstring and client-go's reflector do
(shared/reference/kubernetes-run-status.md 5.1).
"""

from collections.abc import Iterator

from .api import ClusterError, Dropped, Kube
from .reconnect import Reconnect

GONE = 410


class PodView:
    """The pods matching a selector, by uid, as of `resource_version`."""

    def __init__(self, items: list[dict], resource_version: str):
        self.pods = {p["metadata"]["uid"]: p for p in items}
        self.resource_version = resource_version

    def apply(self, event: dict) -> bool:
        """Apply one watch event; returns False for a 410 ERROR (the view must be re-listed)."""
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == GONE:
                return False
            raise Dropped(f"watch of pods: {obj.get('message', 'error event')}")
        self.resource_version = obj.get("metadata", {}).get("resourceVersion", self.resource_version)
        if kind == "DELETED":
            self.pods.pop(obj["metadata"]["uid"], None)
        elif kind in ("ADDED", "MODIFIED"):
            self.pods[obj["metadata"]["uid"]] = obj
        return True

    def items(self) -> list[dict]:
        return list(self.pods.values())


def listed(kube: Kube, selector: str) -> PodView:
    found = kube.pod_list(selector)
    return PodView(found["items"], found["metadata"]["resourceVersion"])


def pod_views(kube: Kube, selector: str, window: int = 5, outage: Reconnect | None = None) -> Iterator[list[dict]]:
    """The pods, yielded after the first list, after every change and at the end of every `window`-second
    watch (so a caller also re-checks what the pod watch does not carry, like the Job's conditions).
    Never ends by itself. A watch that breaks off, and an API server that stops answering, are retried
    through `outage` (reconnect.Reconnect: capped back-off, a note per try); its ClusterError ends it."""
    outage = outage or Reconnect()
    view = outage.call(listed, kube, selector)
    yield view.items()
    while True:
        try:
            for event in kube.watch_pods(selector, view.resource_version, window):
                outage.answered()
                if not view.apply(event):
                    view = outage.call(listed, kube, selector)  # 410 Gone: start over from a fresh list
                    break
                if event.get("type") != "BOOKMARK":
                    yield view.items()
            outage.answered()  # a watch that ended on time, even without events
        except ClusterError as exc:  # Dropped mid-stream, or no answer to the watch itself
            outage.failed(exc)
        yield view.items()
