"""`launch doctor`'s reasoning as data in, findings out, for the signals the control plane in tests/cluster
cannot produce (no attach-detach controller, no Kueue) and for the parsing rules; each cluster-made state is
tested in tests/test_cluster_doctor.py. Messages are the verbatim ones of
shared/reference/kubernetes-run-status.md."""

import pytest

from launcher.cluster.doctor import diagnose, event_time, events_of
from launcher.cluster.scheduling import explain, parse_fit_error
from tests.test_run_status import T0, ended, job, pod

SCHEDULER_EVENT = {  # core/v1 view of an events.k8s.io event: no first/lastTimestamp, only eventTime
    "metadata": {"name": "p.1", "creationTimestamp": "2026-04-26T18:35:00Z"}, "involvedObject": {"uid": "0-" + T0},
    "reason": "FailedScheduling", "type": "Warning", "firstTimestamp": None, "lastTimestamp": None,
    "eventTime": "2026-04-26T18:36:00.123456Z", "source": {}, "reportingComponent": "default-scheduler",
    "message": "0/8 nodes are available: 8 Insufficient nvidia.com/gpu. preemption: 0/8 nodes are available: "
               "8 No preemption victims found for incoming pod.."}


def kubelet_event(reason: str, message: str, at: str, uid: str = "0-" + T0) -> dict:
    return {"metadata": {"name": f"p.{reason}"}, "involvedObject": {"uid": uid}, "reason": reason,
            "type": "Warning", "message": message, "source": {"component": "kubelet"},
            "firstTimestamp": at, "lastTimestamp": at}


def unscheduled(message: str) -> dict:
    p = pod(0, T0, "Pending", node="")
    p["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                  "message": message}]
    return p


def test_scheduler_events_sort_by_event_time_among_legacy_events():
    older = kubelet_event("Pulled", "old", "2026-04-26T18:35:30Z")
    newer = kubelet_event("Started", "new", "2026-04-26T18:37:00Z")
    assert [e["reason"] for e in events_of([newer, SCHEDULER_EVENT, older], "0-" + T0)] == \
        ["Pulled", "FailedScheduling", "Started"]
    series = {**SCHEDULER_EVENT, "series": {"count": 4, "lastObservedTime": "2026-04-26T18:40:00Z"}}
    assert event_time(series) == "2026-04-26T18:40:00Z"


@pytest.mark.parametrize(("message", "parsed"), [
    ("0/8 nodes are available: 8 Insufficient nvidia.com/gpu. preemption: 0/8 nodes are available: 8 No "
     "preemption victims found for incoming pod..", (8, {"Insufficient nvidia.com/gpu": 8}, "")),
    ("0/15 nodes are available: 10 node(s) didn't match Pod's node affinity/selector, 5 Insufficient "
     "nvidia.com/gpu. preemption: 0/15 nodes are available: 10 Preemption is not helpful for scheduling, 5 No "
     "preemption victims found for incoming pod.",
     (15, {"node(s) didn't match Pod's node affinity/selector": 10, "Insufficient nvidia.com/gpu": 5}, "")),
    ("0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are "
     "available: 2 Preemption is not helpful for scheduling..",
     (2, {}, "pod has unbound immediate PersistentVolumeClaims")),
    ("0/6 nodes are available: 6 pod has unbound immediate PersistentVolumeClaims.",
     (6, {"pod has unbound immediate PersistentVolumeClaims": 6}, "")),
    ("something else", (None, {}, "something else")),
], ids=["double-period", "two-reasons", "prefilter", "old-counted-prefilter", "other"])
def test_fit_errors_parse_in_every_known_shape(message, parsed):
    assert parse_fit_error(message) == parsed


def test_each_scheduling_reason_gets_its_own_fix():
    lines = explain("0/49 nodes are available: 1 Insufficient nvidia.com/mig-2g.20gb, 1 node(s) had untolerated "
                    "taint {role: training-cpu}, 40 node(s) didn't match Pod's node affinity/selector. preemption: x")
    assert lines[0].startswith("1 node(s): not enough free nvidia.com/mig-2g.20gb")
    assert lines[1].startswith("40 node(s): no node matches")
    assert lines[2].startswith("1 node(s): the pods do not tolerate the taint role=training-cpu")
    assert explain('0/3 nodes are available: persistentvolumeclaim "ckpt" not found.')[0].startswith(
        "the claim ckpt does not exist")


def test_the_schedulers_newest_event_is_quoted_over_the_pods_condition():
    findings = diagnose(job(completions=1), [unscheduled("0/8 nodes are available: stale.")], [SCHEDULER_EVENT])
    assert findings[0].evidence == SCHEDULER_EVENT["message"]
    assert findings[0].fix.startswith("8 node(s): not enough free nvidia.com/gpu")


def test_an_unbound_claim_is_a_storage_problem():
    message = "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes " \
              "are available: 2 Preemption is not helpful for scheduling.."
    (finding,) = diagnose(job(completions=1), [unscheduled(message)], [])
    assert finding.problem and finding.fix.startswith("a volume claim is not bound")


def test_a_multi_attach_error_points_at_the_rwo_volume():
    event = kubelet_event("FailedAttachVolume", 'Multi-Attach error for volume "pvc-1" Volume is already '
                          "exclusively attached to one node and can't be attached to another", T0)
    (finding,) = diagnose(job(completions=1), [pod(0, T0, "Pending", {"waiting": {"reason": "ContainerCreating"}})],
                          [event])
    assert finding.what == "a volume cannot be attached or mounted" and "ReadWriteMany" in finding.fix


def test_kueue_down_is_not_the_runs_fault():
    message = ('Error creating: Internal error occurred: failed calling webhook "mjob.kb.io": failed to call '
               'webhook: Post "https://kueue-webhook-service.kueue-system.svc:443/mutate-batch-v1-job?timeout=10s"'
               ': no endpoints available for service "kueue-webhook-service"')
    (finding,) = diagnose(job(), [], [kubelet_event("FailedCreate", message, T0, uid="job-uid")])
    assert finding.what.startswith("Kueue's webhook is unreachable") and finding.evidence == message


def test_a_crash_shows_the_last_log_lines():
    crashed = pod(0, T0, "Failed", ended(1, message="boom"))
    logs = {crashed["metadata"]["name"]: [f"line {i}" for i in range(30)]}
    (finding,) = diagnose(job(completions=1), [crashed], [], logs)[:1]
    assert finding.what == "index 0 crashed with exit code 1: boom"
    assert finding.evidence.splitlines() == [f"line {i}" for i in range(20, 30)]


def test_a_preemption_followed_by_a_running_replacement_is_healthy_and_the_next_one_will_wait_longer():
    pods = [pod(0, T0, "Failed", ended(75), disruption="PreemptionByScheduler"),
            pod(0, "2026-04-26T18:40:00Z", "Running", {"running": {}})]
    finding, cost = diagnose(job(completions=1), pods, [])
    assert (finding.problem, finding.what.split(":")[0]) == (False, "healthy")
    assert not cost.problem and cost.what.startswith(
        "next preemption: the Job controller will wait 20 s before replacing the next preempted pod: ")
    run = job(completions=1)["metadata"]["name"]
    assert cost.fix.startswith(f"to start again with no back-off, `launch cancel {run}` then `launch resume {run}`")


def test_the_backoff_grows_with_every_failed_pod_and_is_capped():
    pods = [pod(0, f"2026-04-26T18:3{i}:00Z", "Failed", ended(75), disruption="EvictionByEvictionAPI")
            for i in range(8)]
    findings = diagnose(job(completions=1), pods, [])
    assert "about 600 s after 8 failed pod(s)" in findings[-1].what and not findings[-1].problem


def workload(*conditions: dict) -> dict:
    return {"metadata": {"name": "job-bert-1a2b3c4d-3f2a1", "labels": {"kueue.x-k8s.io/job-uid": "job-uid"}},
            "status": {"conditions": list(conditions)}}


def wl_cond(kind: str, status: str, reason: str, message: str) -> dict:
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": T0}


QUEUED = job(suspend=True, labels={"kueue.x-k8s.io/queue-name": "research"})


@pytest.mark.parametrize(("conditions", "what", "problem"), [
    ([wl_cond("QuotaReserved", "False", "Pending", "couldn't assign flavors to pod set main: insufficient unused "
              "quota for cpu in flavor default-flavor, 9 more needed")],
     "queue research: waiting for quota: needs 9 more cpu in flavor default-flavor (admitted when other workloads "
     "finish)", False),
    ([wl_cond("QuotaReserved", "False", "Pending", "couldn't assign flavors to pod set main: insufficient quota for "
              "nvidia.com/gpu in flavor a100, request > maximum capacity (16 > 8)")],
     "queue research: the run asks for more than the ClusterQueue's maximum capacity: it can never be admitted", True),
    ([wl_cond("QuotaReserved", "False", "Inadmissible", "LocalQueue research doesn't exist")],
     "queue research: Kueue cannot admit it: LocalQueue research doesn't exist", True),
    ([wl_cond("Evicted", "True", "Preempted", "Preempted to accommodate a higher priority Workload"),
      wl_cond("Preempted", "True", "InClusterQueue", "Preempted to accommodate a higher priority Workload")],
     "queue research: preempted by Kueue: Preempted to accommodate a higher priority Workload", False),
    ([wl_cond("Evicted", "True", "Deactivated", "The workload is deactivated due to RequeuingLimitExceeded")],
     "queue research: stopped by Kueue (Deactivated): The workload is deactivated due to RequeuingLimitExceeded",
     True),
], ids=["more-quota", "never-fits", "inadmissible", "preempted", "deactivated"])
def test_a_queued_run_is_explained_from_its_kueue_workload(conditions, what, problem):
    (finding,) = diagnose(QUEUED, [], [], workloads=[workload(*conditions)])
    assert (finding.what, finding.problem) == (what, problem)


def test_a_queued_run_without_a_workload_asks_whether_kueue_runs():
    (finding,) = diagnose(QUEUED, [], [], workloads=[])
    assert not finding.problem and "no Workload yet: is Kueue running?" in finding.fix


# An index with no pod: the Job controller's refusals (FailedCreate) ------------------------------------------------
REFUSALS = [  # the admission plugins' own words, k/k 1.37 (launcher/cluster/pod_refusal.py)
    ('pods "bert-1a2b3c4d-0-x7k2p" is forbidden: error looking up service account training/trainr: '
     'serviceaccount "trainr" not found',
     "its ServiceAccount trainr does not exist in the namespace", "fix storage.checkpoints.service_account"),
    ('pods "bert-1a2b3c4d-0-x7k2p" is forbidden: exceeded quota: compute, requested: limits.cpu=2,requests.cpu=2, '
     'used: limits.cpu=0,requests.cpu=0, limited: limits.cpu=1,requests.cpu=1',
     "the namespace's ResourceQuota compute is full (requested limits.cpu=2,requests.cpu=2; used limits.cpu=0,"
     "requests.cpu=0; limited limits.cpu=1,requests.cpu=1)", "lower resources"),
    ('pods "bert-1a2b3c4d-0-x7k2p" is forbidden: failed quota: compute: must specify limits.nvidia.com/gpu',
     "the namespace's ResourceQuota compute needs every pod to set limits.nvidia.com/gpu", "LimitRange"),
    ('pods "bert-1a2b3c4d-0-x7k2p" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
     'maximum memory usage per Container is 1Gi, but limit is 4Gi]',
     "the namespace's LimitRange refuses it: maximum cpu usage per Container is 1, but limit is 2, maximum memory "
     "usage per Container is 1Gi, but limit is 4Gi", "set resources.cpu and resources.memory within"),
    ('pods "bert-1a2b3c4d-0-x7k2p" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true',
     "the namespace's Pod Security level refuses it: violates PodSecurity", "pod-security.kubernetes.io/enforce"),
]


@pytest.mark.parametrize(("error", "what", "fix"), REFUSALS, ids=["serviceaccount", "quota", "quota-needs-limits",
                                                                   "limitrange", "podsecurity"])
def test_an_index_the_job_controller_cannot_create_is_a_problem_named_from_its_event(error, what, fix):
    refused = kubelet_event("FailedCreate", f"Error creating: {error}", T0, uid="job-uid")
    refused["source"] = {"component": "job-controller"}
    findings = diagnose(job(completions=2), [pod(0, T0, "Running", {"running": {}})], [refused])
    assert [f.problem for f in findings] == [True]
    assert findings[0].what.startswith(f"the Job controller cannot create the pod of index 1: {what}")
    assert fix in findings[0].fix and findings[0].evidence == f"Error creating: {error}"


def test_an_index_without_pod_or_event_is_never_healthy():
    (finding,) = diagnose(job(completions=2), [pod(0, T0, "Running", {"running": {}})], [])
    assert (finding.problem, finding.what) == (True, "index 1 has no pod, and no event of the Job says why")


def test_a_refusal_is_not_reported_once_every_index_has_a_pod():
    refused = kubelet_event("FailedCreate", 'Error creating: serviceaccount "trainr" not found', T0, uid="job-uid")
    (finding,) = diagnose(job(completions=1), [pod(0, T0, "Running", {"running": {}})], [refused])
    assert finding.what.startswith("healthy")


# A pod stuck terminating (kubernetes-sigs/jobset#576) -------------------------------------------------------------
def stuck_pod() -> dict:
    p = pod(0, T0, "Running", {"running": {}}, node="gke-spot-3")
    p["metadata"].update(namespace="training", deletionTimestamp="2026-04-26T18:36:42Z",
                         deletionGracePeriodSeconds=30)
    return p


UNREACHABLE = {"metadata": {"name": "gke-spot-3"}, "status": {"conditions": [
    {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
     "message": "Kubelet stopped posting node status.", "lastTransitionTime": "2026-04-26T18:36:00Z"}]}}


def test_a_pod_terminating_on_an_unreachable_node_is_named_with_what_unblocks_it():
    (finding,) = diagnose(job(completions=1), [stuck_pod()], [], nodes={"gke-spot-3": UNREACHABLE})
    assert finding.problem and finding.pod == stuck_pod()["metadata"]["name"]
    assert finding.what == (
        f"index 0 is stuck: pod {finding.pod} has been terminating since 2026-04-26T18:36:12Z on node gke-spot-3 "
        "(NotReady since 2026-04-26T18:36:00Z: NodeStatusUnknown Kubelet stopped posting node status.); the Job "
        "creates its replacement only once it has stopped")
    assert "kubectl delete node gke-spot-3" in finding.fix
    assert "node.kubernetes.io/out-of-service=nodeshutdown:NoExecute" in finding.fix
    assert "Force-deleting the pod" in finding.fix and "two copies of one rank" in finding.fix


def test_without_the_node_a_pod_long_past_its_grace_period_is_stuck():
    deadline = 1777228602.0  # the pod's deletionTimestamp
    (stopping,) = diagnose(job(completions=1), [stuck_pod()], [], now=deadline + 5)
    assert (stopping.problem, stopping.what) == (False, f"index 0 is stopping: pod {stopping.pod} was deleted at "
                                                 "2026-04-26T18:36:12Z; the Job creates its replacement once it has "
                                                 "stopped")
    (finding,) = diagnose(job(completions=1), [stuck_pod()], [], now=deadline + 95)
    assert finding.problem and "its kubelet has not confirmed the stop 95 s after the grace period" in finding.what
