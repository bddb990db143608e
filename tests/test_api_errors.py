"""API errors become one line that says what to do (launcher/cluster/api.py `Kube.error`), from the
metav1.Status bodies the apiserver sends (shared/reference/kubernetes-run-status.md 5.2)."""

import json
from pathlib import Path

import pytest
from kubernetes import client

from launcher.cluster.api import Kube


def refused(status: int, reason: str, message: str, details: dict | None = None) -> client.ApiException:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason,
            "details": details or {}, "code": status}
    return client.ApiException(status=status, reason=reason, body=json.dumps(body))


KUBE = Kube(client.ApiClient(client.Configuration(host="https://127.0.0.1:1")), "training")


def test_forbidden_names_the_verb_the_resource_and_the_role():
    message = ('jobs.batch "r" is forbidden: User "system:serviceaccount:training:launcher" cannot delete '
               'resource "jobs" in API group "batch" in the namespace "training"')
    error = KUBE.error("delete", "jobs.batch/r", refused(403, "Forbidden", message))
    assert str(error) == (f"forbidden: cannot delete jobs.batch/r in namespace 'training': {message} "
                          "(manifests/rbac.yaml's Role `launcher` grants what launch needs)")
    assert error.status == 403


def test_a_missing_namespace_says_so():
    error = KUBE.error("create", "jobs/r", refused(404, "NotFound", 'namespaces "training" not found',
                                                   {"name": "training", "kind": "namespaces"}))
    assert str(error) == ("namespace 'training' not found: create it (`kubectl create namespace training`, or "
                          "`kubectl apply -k manifests/` for `training`) or pass another with -n")


def test_a_missing_namespace_says_where_it_was_chosen():
    kube = Kube(KUBE.api, "training", namespace_from="the config's `namespace:`")
    error = kube.error("create", "jobs/r", refused(404, "NotFound", 'namespaces "training" not found',
                                                   {"name": "training", "kind": "namespaces"}))
    assert str(error).startswith("namespace 'training' (from the config's `namespace:`) not found: create it")


def test_kueue_down_is_named_as_the_clusters_problem():
    message = ('Internal error occurred: failed calling webhook "mjob.kb.io": failed to call webhook: Post '
               '"https://kueue-webhook-service.kueue-system.svc:443/mutate-batch-v1-job?timeout=10s": no endpoints '
               'available for service "kueue-webhook-service"')
    error = KUBE.error("create", "jobs/r", refused(500, "InternalError", message))
    assert str(error).startswith("create jobs/r: Kueue's admission webhook is unreachable")


def test_other_errors_keep_the_status_reason_and_message():
    error = KUBE.error("get", "pods/p/log", refused(400, "BadRequest", 'container "trainer" in pod "p" is waiting '
                                                                        "to start: ContainerCreating"))
    assert str(error) == ('get pods/p/log: 400 BadRequest: container "trainer" in pod "p" is waiting to start: '
                          "ContainerCreating")
    assert str(KUBE.error("get", "x", client.ApiException(status=502, reason="Bad Gateway"))) == \
        "get x: 502 Bad Gateway: Bad Gateway"


def test_no_kubeconfig_outside_a_pod_points_at_the_options(tmp_path, monkeypatch):
    from kubernetes import config

    from launcher.cluster.api import ClusterError, connect

    monkeypatch.setattr(config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "config"))
    with pytest.raises(ClusterError, match=r"no kubeconfig \(.*/config does not exist\) and not in a pod: pass "
                                           r"--kubeconfig or set KUBECONFIG, or use --local to run here"):
        connect()
    with pytest.raises(ClusterError, match="--kubeconfig /nonexistent: no such file"):
        connect(Path("/nonexistent"))
