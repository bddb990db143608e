"""`launch doctor` on states the real control plane produces: scheduling problems from the real scheduler's
own events on the fake node pools, Job failures from the real Job controller, kubelet states written as
kubelets write them (tests/cluster/kubelet.py)."""

import json

import pytest

from launcher.schema.contract import termination_message
from tests.cluster.kubelet import manual
from tests.cluster.nodes import POOL_LABEL
from tests.cluster.objects import create, run_objects, submit
from tests.cluster.wait import until
from tests.factory import run_launch

pytestmark = pytest.mark.cluster


def doctor(kube, namespace: str, run_id: str) -> tuple[int, list[dict]]:
    result = run_launch("doctor", run_id, "-o", "json", "--namespace", namespace, "--kubeconfig", str(kube.kubeconfig))
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def doctor_until(kube, namespace: str, run_id: str, words: str) -> tuple[int, list[dict]]:
    """Run doctor until a finding says `words` (controllers and the scheduler act asynchronously)."""
    return until(lambda: (found := doctor(kube, namespace, run_id)) and
                 any(words in f["what"] for f in found[1]) and found, 30, f"a finding saying {words!r}")


def _run(kube, namespace: str, config: str, *overrides: str) -> str:
    return submit(kube.api, run_objects(config, namespace, *overrides)).metadata.name


def _manual(kube, namespace: str) -> str:
    objects = run_objects("quickstart.yaml", namespace, "resources.nodes=1")
    create(kube.api, objects["ConfigMap"])
    return create(kube.api, manual(objects["Job"])).metadata.name


UNSCHEDULABLE = [
    ("bert.yaml", ("resources.gpu.count=8",), "4 node(s): not enough free nvidia.com/gpu"),
    ("bert.yaml", ("scheduling.spot=eks", "resources.gpu.product=NVIDIA-B200"),
     "no node matches the pods' node selector or affinity"),
    ("quickstart.yaml", (f'scheduling.node_selector={{"{POOL_LABEL}": "gke-spot"}}',),
     "node(s): the pods do not tolerate the nodes' taint"),
]


@pytest.mark.parametrize(("config", "overrides", "fix"), UNSCHEDULABLE, ids=["gpus", "product", "taint"])
def test_an_unschedulable_run_is_explained_from_the_schedulers_event(kube, namespace, config, overrides, fix):
    run_id = _run(kube, namespace, config, *overrides)
    code, findings = doctor_until(kube, namespace, run_id, "the scheduler finds no node")
    assert code == 1
    assert fix in findings[0]["fix"] and findings[0]["evidence"].startswith("0/")


def test_an_image_pull_failure_names_the_image(kube, namespace, kubelet):
    run_id = _manual(kube, namespace)
    pod = until(lambda: next((p for p in kubelet.pods(run_id) if p.spec.node_name), None), 30, "a scheduled pod")
    kubelet.image_pull_failing(pod, backed_off=True)
    code, findings = doctor(kube, namespace, run_id)
    assert code == 1 and findings[0]["what"] == \
        f"the image {pod.spec.containers[0].image} cannot be pulled (ImagePullBackOff)"


def test_a_missing_secret_is_quoted(kube, namespace, kubelet):
    run_id = _manual(kube, namespace)
    pod = until(lambda: next((p for p in kubelet.pods(run_id) if p.spec.node_name), None), 30, "a scheduled pod")
    kubelet.config_error(pod, "s3-credentials")
    code, findings = doctor(kube, namespace, run_id)
    assert code == 1 and findings[0]["what"] == 'the container cannot be created: secret "s3-credentials" not found'


def test_an_oom_kill_names_the_limit_it_hit(kube, namespace, kubelet):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    kubelet.oom_kill(kubelet.running(run_id, 0))
    code, findings = doctor_until(kube, namespace, run_id, "OOM-killed")
    assert code == 1
    assert findings[0]["what"] == "index 0 was OOM-killed at its memory limit of 4Gi"
    assert "raise resources.memory" in findings[0]["fix"]


def test_a_crash_is_reported_with_the_trainers_message(kube, namespace, kubelet):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    kubelet.exit(kubelet.running(run_id, 0), 1, termination_message(1, "error: CUDA error: device-side assert", 30))
    code, findings = doctor_until(kube, namespace, run_id, "crashed")
    assert code == 1
    assert findings[0]["what"] == "index 0 crashed with exit code 1: error: CUDA error: device-side assert"


def test_a_bad_config_exit_fails_the_job_and_quotes_the_trainer(kube, namespace, kubelet):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    said = "error: /mnt/data/reviews/train.jsonl: no such file"
    kubelet.exit(kubelet.running(run_id, 0), 2, termination_message(2, said))
    code, findings = doctor_until(kube, namespace, run_id, "refused its config")
    assert code == 1
    assert findings[0]["what"] == f"the trainer refused its config or data (exit 2): {said}"
    assert "matching FailJob rule" in findings[0]["evidence"]


def test_the_backoff_limit_is_named(kube, namespace, kubelet):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1", "job.backoff_limit=0")
    kubelet.exit(kubelet.running(run_id, 0), 1)
    code, findings = doctor_until(kube, namespace, run_id, "job.backoff_limit")
    assert code == 1 and findings[0]["evidence"] == "Job has reached the specified backoff limit"


def test_a_deadline_is_named(kube, namespace, kubelet):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1", "job.active_deadline_seconds=1")
    code, findings = doctor_until(kube, namespace, run_id, "active_deadline_seconds")
    assert code == 1 and findings[0]["evidence"] == "Job was active longer than specified deadline"


def test_a_preempted_index_waiting_for_its_replacement_is_not_a_problem(kube, namespace, kubelet):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    kubelet.shut_down_node(kubelet.running(run_id, 0))
    code, findings = doctor_until(kube, namespace, run_id, "pod-failure backoff (about 10 s after 1 failed pod(s)")
    assert code == 0
    assert [f["problem"] for f in findings] == [False, False]
    assert findings[0]["what"] == \
        "index 0 was preempted (TerminationByKubelet); the Job ignores it and replaces the pod"


def test_a_queued_run_waits_in_its_kueue_queue(kube, namespace):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1", "scheduling.queue=research")
    code, findings = doctor(kube, namespace, run_id)
    assert (code, findings[0]["what"]) == (0, "waiting in Kueue queue research for quota")


def test_a_running_run_is_healthy(kube, namespace, kubelet):
    run_id = _run(kube, namespace, "quickstart.yaml", "resources.nodes=1")
    kubelet.running(run_id, 0)
    code, findings = doctor(kube, namespace, run_id)
    assert code == 0 and findings[0]["what"].startswith("healthy")
