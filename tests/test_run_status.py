"""One run-status model for cluster and local runs: API objects (the JSON the API server returns) and
run.json in, the same RunStatus out. Shapes from shared/reference/kubernetes-run-status.md."""

import pytest

from launcher.cluster.runstatus import run_status
from launcher.local.state import RunState
from launcher.schema.contract import termination_message
from launcher.local.status import local_status
from launcher.status.table import age, status_text

T0 = "2026-04-26T18:35:42Z"
NODE_SHUTDOWN = "Pod was terminated in response to imminent node shutdown."


def job(conditions=(), suspend=False, labels=None, completions=2, deleting=False) -> dict:
    meta = {"name": "bert-1a2b3c4d", "namespace": "training", "creationTimestamp": T0, "uid": "job-uid",
            "labels": {"kubetrain.dev/config-hash": "1a2b3c4d", **(labels or {})}}
    if deleting:
        meta["deletionTimestamp"] = "2026-04-26T19:00:00Z"
    return {"metadata": meta, "spec": {"completions": completions, "suspend": suspend},
            "status": {"conditions": list(conditions), "ready": 0}}


def cond(kind: str, reason: str = "", message: str = "") -> dict:
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": T0, "lastProbeTime": T0}


def pod(index: int, created: str, phase: str, state: dict | None = None, disruption: str = "", node="gke-spot-0",
        name: str = "") -> dict:
    conditions = [{"type": "DisruptionTarget", "status": "True", "reason": disruption, "message": NODE_SHUTDOWN}] \
        if disruption else []
    statuses = [{"name": "trainer", "state": state}] if state else []
    return {"metadata": {"name": name or f"bert-1a2b3c4d-{index}-{created[-3:-1]}", "uid": f"{index}-{created}",
                         "creationTimestamp": created,
                         "annotations": {"batch.kubernetes.io/job-completion-index": str(index)},
                         "labels": {"batch.kubernetes.io/job-name": "bert-1a2b3c4d"}},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions, "containerStatuses": statuses}}


def ended(code: int, reason: str = "Error", message: str = "") -> dict:
    return {"terminated": {"exitCode": code, "reason": reason, "message": message}}


def test_a_preempted_index_shows_two_attempts_one_preemption_and_the_committed_steps():
    pods = [pod(0, "2026-04-26T18:35:50Z", "Succeeded", ended(0, "Completed", termination_message(
                0, "finished", 80, {"test_accuracy": 0.91}))),
            pod(1, "2026-04-26T18:35:50Z", "Failed", ended(75, message=termination_message(75, "requeue", 40)),
                disruption="TerminationByKubelet"),
            pod(1, "2026-04-26T18:36:30Z", "Succeeded", ended(0, "Completed", termination_message(0, "finished", 80)))]
    status = run_status(job([cond("Complete", "CompletionsReached", "Reached expected number of succeeded pods")]),
                        list(reversed(pods)))
    assert (status.status, status.attempts, status.preemptions, status.failures) == ("Succeeded", 3, 1, 0)
    index = status.indexes[1]
    assert (index.attempts, index.preemptions, index.failures, index.state) == (2, 1, 0, "Succeeded")
    assert (status.committed_step, status.metrics) == (80, {"test_accuracy": 0.91})
    first = status.attempts_of(1)[0]
    assert (first.attempt, first.committed_step, first.ended) == \
        (1, 40, f"preempted by TerminationByKubelet: {NODE_SHUTDOWN} (requeue)")


def test_the_requeue_code_alone_is_a_preemption_and_an_oom_kill_is_a_failure():
    pods = [pod(0, "2026-04-26T18:35:50Z", "Failed", ended(75)),
            pod(0, "2026-04-26T18:36:10Z", "Failed", ended(137, "OOMKilled")),
            pod(0, "2026-04-26T18:36:40Z", "Running", {"running": {"startedAt": T0}})]
    status = run_status(job(completions=1), pods)
    assert (status.status, status.preemptions, status.failures) == ("Running", 1, 1)
    assert [a.ended for a in status.history] == ["exit code 75", "OOMKilled (exit 137)", ""]


@pytest.mark.parametrize(("the_job", "pods", "phase"), [
    (job(suspend=True, labels={"kueue.x-k8s.io/queue-name": "research"}), [],
     ("Queued", "waiting in Kueue queue research")),
    (job(suspend=True), [], ("Suspended", "spec.suspend is true")),
    (job(), [pod(0, T0, "Pending")], ("Pending", "")),
    (job(), [pod(0, T0, "Running", {"running": {}}), pod(1, T0, "Pending")], ("Running", "")),
    (job(), [pod(0, T0, "Succeeded", ended(0, "Completed")), pod(1, T0, "Pending")], ("Running", "")),
    (job([cond("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]), [],
     ("Failed", "BackoffLimitExceeded: Job has reached the specified backoff limit")),
    (job(deleting=True), [], ("Cancelled", "the Job is being deleted")),
], ids=["queued", "suspended", "pending", "running", "replacing", "failure-target", "deleting"])
def test_the_phase_comes_from_conditions_then_suspension_then_pods(the_job, pods, phase):
    status = run_status(the_job, pods)
    assert (status.status, status.reason) == phase


def test_a_termination_message_of_another_format_is_kept_as_text():
    status = run_status(job(completions=1), [pod(0, T0, "Failed", ended(1, message="Segmentation fault"))])
    assert (status.committed_step, status.history[0].ended) == (None, "exit code 1 (Segmentation fault)")


def test_a_local_run_uses_the_same_model_and_keeps_its_summary_fields():
    state = RunState("smoke-1", "abcd1234", status="Succeeded", attempts=4, preemptions=1, failures=1,
                     metrics={"test_accuracy": 0.8}, history=[
                         {"index": 0, "attempt": 1, "exit_code": 0, "drill": None},
                         {"index": 1, "attempt": 1, "exit_code": 75, "drill": "preempt"},
                         {"index": 1, "attempt": 2, "exit_code": 1, "drill": None},
                         {"index": 1, "attempt": 3, "exit_code": 0, "drill": None}])
    status = local_status(state)
    assert {k: status.to_json()[k] for k in state.summary()} == state.summary()
    assert [(i.attempts, i.preemptions, i.failures) for i in status.indexes] == [(1, 0, 0), (3, 1, 1)]
    assert status.history[1].ended == "preempted: preempt drill"


def test_ages_and_the_status_text():
    now = 1777228542.0 + 3 * 3600  # T0 + 3 h
    assert (age(T0, now), age("", now), age(T0, 1777228542.0 + 59)) == ("3h", "-", "59s")
    status = run_status(job(completions=1), [pod(0, T0, "Running", {"running": {}})])
    assert status_text(status, now) == (
        "Name:            bert-1a2b3c4d\n"
        "Where:           cluster, namespace training\n"
        "Status:          Running\n"
        "Age:             3h\n"
        "Attempts:        1\n"
        "Preemptions:     0\n"
        "Failures:        0\n"
        "Committed step:  -\n"
        "Metrics:         -\n"
        "\n"
        "INDEX   POD                  NODE         STATE     ATTEMPTS   PREEMPTIONS   FAILURES\n"
        "0       bert-1a2b3c4d-0-42   gke-spot-0   Running   1          0             0\n"
        "\n"
        "INDEX   ATTEMPT   STARTED                ENDED   EXIT   DRILL   FROM-STEP   TO-STEP   OUTCOME\n"
        "0       1         2026-04-26T18:35:42Z   -       -      -       -           -         Running")


def test_a_local_run_is_as_old_as_its_folders_config(tmp_path):
    from launcher.local.status import folder_created

    import os

    (tmp_path / "config.yaml").write_text("name: x\n")
    os.utime(tmp_path / "config.yaml", (1777228542, 1777228542))
    assert (folder_created(tmp_path), folder_created(tmp_path / "absent")) == (T0, "")


# Pods being deleted: stopping, stuck ------------------------------------------------------------------------------
EVICTED = "EvictionByEvictionAPI"


def deleted(p: dict, deadline: str, grace: int = 30) -> dict:
    """`p` after a graceful delete asked at `deadline` - `grace` seconds (deletionTimestamp is the deadline)."""
    p["metadata"].update(deletionTimestamp=deadline, deletionGracePeriodSeconds=grace,
                         finalizers=["batch.kubernetes.io/job-tracking"])
    return p


def test_a_run_whose_only_pod_is_stopping_is_running_and_says_so():
    stopping = deleted(pod(0, T0, "Running", {"running": {"startedAt": T0}}, disruption=EVICTED),
                       "2026-04-26T18:36:42Z")
    status = run_status(job(completions=1), [stopping])
    assert (status.status, status.indexes[0].state) == ("Running", "Stopping")
    assert status.reason.startswith(f"index 0 is stopping (pod {stopping['metadata']['name']}")
    assert status.reason.endswith("its replacement starts once it has stopped")


def test_a_pod_deleted_before_it_ran_is_terminating_and_the_run_still_pending():
    status = run_status(job(completions=1), [deleted(pod(0, T0, "Pending"), "2026-04-26T18:36:42Z")])
    assert (status.status, status.indexes[0].state) == ("Pending", "Terminating")


def test_a_deleted_pod_that_outlives_its_grace_period_is_stuck():
    deadline = 1777228602.0  # 2026-04-26T18:36:42Z, the end of the grace period
    stuck = deleted(pod(0, T0, "Running", {"running": {"startedAt": T0}}, node="gke-spot-3"),
                    "2026-04-26T18:36:42Z")
    assert run_status(job(completions=1), [stuck], now=deadline + 29).indexes[0].state == "Stopping"
    status = run_status(job(completions=1), [stuck], now=deadline + 31)
    assert (status.status, status.indexes[0].state) == ("Running", "Stuck")
    assert status.reason == (f"index 0 is stuck: pod {stuck['metadata']['name']} was deleted and has not stopped "
                             "on node gke-spot-3, so its replacement cannot start (see `launch doctor`)")


# Counts that never go down (kubernetes/kubernetes#81285) --------------------------------------------------------
def test_an_evicted_pod_that_vanished_keeps_its_attempt_and_counts_as_a_preemption():
    first = pod(0, "2026-04-26T18:35:50Z", "Running", {"running": {}})
    seen = run_status(job(completions=1), [first]).history
    replacement = pod(0, "2026-04-26T18:37:00Z", "Running", {"running": {}})
    status = run_status(job(completions=1), [replacement], seen=seen)
    assert (status.attempts, status.preemptions, status.failures) == (2, 1, 0)
    gone, now = status.attempts_of(0)
    assert (gone.attempt, gone.pod, gone.state, gone.gone) == (1, first["metadata"]["name"], "Gone", True)
    assert "evicted, drained or deleted" in gone.ended
    assert (now.attempt, now.pod, now.gone) == (2, replacement["metadata"]["name"], False)
    again = run_status(job(completions=1), [replacement], seen=status.history)
    assert (again.attempts, again.preemptions, [a.attempt for a in again.history]) == (2, 1, [1, 2])


def test_a_crashed_pod_deleted_unseen_is_still_a_failure_from_the_jobs_count():
    the_job = job(completions=1)
    the_job["status"]["failed"] = 1
    status = run_status(the_job, [pod(0, "2026-04-26T18:37:00Z", "Running", {"running": {}})])
    assert (status.attempts, status.failures, status.preemptions) == (2, 1, 0)


def test_a_vanished_pod_is_a_failure_when_the_job_counted_one_more_than_was_seen():
    first = pod(0, "2026-04-26T18:35:50Z", "Running", {"running": {}})
    seen = run_status(job(completions=1), [first]).history
    the_job = job(completions=1)
    the_job["status"]["failed"] = 1
    status = run_status(the_job, [pod(0, "2026-04-26T18:37:00Z", "Running", {"running": {}})], seen=seen)
    assert (status.attempts, status.failures, status.preemptions) == (2, 1, 0)
    assert status.history[0].ended == "pod gone before its end was seen; the Job counted it as a failure"


def test_a_seen_end_is_kept_once_its_pod_is_gone():
    crashed = pod(0, "2026-04-26T18:35:50Z", "Failed", ended(1))
    seen = run_status(job(completions=1), [crashed]).history
    status = run_status(job(completions=1), [], seen=seen)
    assert [(a.state, a.ended, a.gone) for a in status.history] == [("Failed", "exit code 1", True)]
    assert status.failures == 1


def test_failures_being_counted_are_not_counted_twice():
    crashed = pod(0, "2026-04-26T18:35:50Z", "Failed", ended(1))
    crashed["metadata"]["finalizers"] = ["batch.kubernetes.io/job-tracking"]
    the_job = job(completions=1)
    assert run_status(the_job, [crashed]).failures == 1
    the_job["status"].update(failed=0, uncountedTerminatedPods={"failed": [crashed["metadata"]["uid"]]})
    crashed["metadata"]["finalizers"] = []
    assert run_status(the_job, [crashed]).failures == 1
    the_job["status"].update(failed=1, uncountedTerminatedPods={})
    assert run_status(the_job, [crashed]).failures == 1


def test_the_job_controllers_per_index_counts_number_the_attempts():
    newest = pod(0, "2026-04-26T18:37:00Z", "Running", {"running": {}})
    newest["metadata"]["annotations"].update({"batch.kubernetes.io/job-index-failure-count": "1",
                                              "batch.kubernetes.io/job-index-ignored-failure-count": "2"})
    status = run_status(job(completions=1), [newest])
    assert (status.history[0].attempt, status.indexes[0].attempts, status.attempts) == (4, 4, 4)
