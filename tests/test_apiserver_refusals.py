"""Why the schema refuses what tests/test_validate_gaps.py pins: rendered without that check, the API server
itself rejects the object (dryRun=All, on the control plane of tests/cluster). Each case takes a valid config's
Job and changes one field the way the unchecked config would have rendered it."""

import json

import pytest
from kubernetes import client

from launcher.config.identity import run_id_for
from launcher.render.manifests import render
from tests.cluster.objects import create
from tests.factory import make_experiment

pytestmark = pytest.mark.cluster


def pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def set_node_selector(job: dict, key: str, value: str) -> None:
    pod(job)["nodeSelector"] = {key: value}


CASES = [
    pytest.param(lambda job: set_node_selector(job, "bad key", "a"),
                 "spec.template.spec.nodeSelector: Invalid value: \"bad key\"", id="label-key"),
    pytest.param(lambda job: set_node_selector(job, "pool", "a b"),
                 "spec.template.spec.nodeSelector: Invalid value: \"a b\"", id="label-value"),
    pytest.param(lambda job: pod(job).update(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]),
                 "spec.template.spec.tolerations[0].operator: Invalid value: \"v\"", id="exists-with-value"),
    pytest.param(lambda job: pod(job).update(tolerations=[{"operator": "Equal", "value": "v"}]),
                 "spec.template.spec.tolerations[0].operator: Invalid value: \"Equal\"", id="no-key-equal"),
    pytest.param(lambda job: pod(job).update(tolerations=[{"key": "k", "operator": "Equal", "value": "v",
                                                           "effect": "NoSchedule", "tolerationSeconds": 5}]),
                 "spec.template.spec.tolerations[0].effect: Invalid value: \"NoSchedule\"",
                 id="toleration-seconds-without-noexecute"),
    pytest.param(lambda job: pod(job)["containers"][0]["volumeMounts"][2].update(mountPath="/mnt/data"),
                 "mountPath: Invalid value: \"/mnt/data\": must be unique", id="same-mount-twice"),
    pytest.param(lambda job: job["spec"].update(completions=100_001, parallelism=100_001),
                 "spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion "
                 "mode is Indexed", id="indexed-completions"),
    pytest.param(lambda job: job["spec"].update(backoffLimit=2**31),
                 "json: cannot unmarshal number 2147483648 into Go struct field JobSpec.spec.backoffLimit of type "
                 "int32", id="backoff-limit-beyond-int32"),
    pytest.param(lambda job: pod(job).update(priorityClassName="High_Priority"),
                 "spec.template.spec.priorityClassName: Invalid value: \"High_Priority\"", id="priority-class"),
]


@pytest.mark.parametrize("change, expected", CASES)
def test_the_api_server_rejects_what_the_schema_refuses(kube, namespace, change, expected):
    exp = make_experiment(namespace=namespace)
    job = render(exp, run_id_for(exp))[-1]
    change(job)
    with pytest.raises(client.ApiException) as raised:
        create(kube.api, job, dry_run=True)
    assert raised.value.status in (400, 422)  # 400: the body does not decode; 422: a field is invalid
    assert expected in json.loads(raised.value.body)["message"]
