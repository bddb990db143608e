"""Keeping a view of a run's pods from watch events, and picking an attempt's pod: pure rules of
launcher/cluster/watching.py and follow.py (their traffic is exercised in tests/test_cluster_faults.py)."""

import pytest

from launcher.cluster.api import ClusterError, Dropped
from launcher.cluster.follow import pick, strip_timestamp
from launcher.cluster.watching import PodView
from tests.test_run_status import pod

A = pod(0, "2026-04-26T18:35:50Z", "Failed")
B = pod(0, "2026-04-26T18:36:30Z", "Running")
C = pod(1, "2026-04-26T18:35:50Z", "Running")


def event(kind: str, obj: dict, version: str) -> dict:
    return {"type": kind, "object": {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}}


def test_events_add_modify_and_delete_pods_and_advance_the_version():
    view = PodView([A], "10")
    assert view.apply(event("ADDED", B, "11")) and view.apply(event("MODIFIED", A, "12"))
    assert view.apply(event("DELETED", A, "13"))
    assert [p["metadata"]["uid"] for p in view.items()] == [B["metadata"]["uid"]] and view.resource_version == "13"
    bookmark = {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "20"}}}
    assert view.apply(bookmark) and view.resource_version == "20" and len(view.items()) == 1


def test_an_expired_version_asks_for_a_relist_and_other_errors_break_the_stream():
    view = PodView([A], "10")
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired",
                                        "message": "too old resource version: 10 (25)"}}
    assert view.apply(gone) is False
    with pytest.raises(Dropped):
        view.apply({"type": "ERROR", "object": {"kind": "Status", "code": 500, "message": "etcd"}})


def test_attempt_k_is_the_kth_pod_created_for_the_index():
    pods = [C, B, A]
    assert pick(pods, 0, 1) is A and pick(pods, 0, 2) is B and pick(pods, 0, None) is B and pick(pods, 1, None) is C
    with pytest.raises(ClusterError, match="index 0 has attempts 1 to 2; no attempt 3"):
        pick(pods, 0, 3)
    with pytest.raises(ClusterError, match="index 2 has no pod yet"):
        pick(pods, 2, None)


def test_kubelet_timestamps_are_split_off_log_lines():
    assert strip_timestamp("2026-04-26T18:35:50.123456789Z [run] reached step 40/80") == \
        ("2026-04-26T18:35:50.123456789Z", "[run] reached step 40/80")
    assert strip_timestamp("no stamp here") == ("", "no stamp here")
