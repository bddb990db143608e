"""Every `launch` cluster command completes through 429s (Retry-After), 503s, dropped connections and an
expired watch injected into real API traffic (tests/cluster/faults.py); refusals are one line naming the
verb and resource; nothing prints a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import certifi
import pytest
from kubernetes import client

from tests.cluster.controlplane import write_kubeconfig
from tests.cluster.namespaces import manifest_objects
from tests.factory import ROOT, run_launch

pytestmark = pytest.mark.cluster

QUICKSTART = ("configs/quickstart.yaml", "--set", "resources.nodes=1")


@pytest.fixture
def via_proxy(kube, namespace, proxy, tmp_path):
    """A kubeconfig through the proxy, as admin, in the test's namespace."""
    return proxy.kubeconfig(tmp_path / "proxy.kubeconfig", kube.control_plane.tokens["admin"], namespace)


def _launch(kubeconfig, namespace, tmp_path, *args, timeout=120) -> subprocess.CompletedProcess:
    return run_launch(*args, "--namespace", namespace, "--kubeconfig", str(kubeconfig),
                      "--runs-root", str(tmp_path / "runs"), timeout=timeout)


def test_submit_and_wait_complete_through_throttling_outages_drops_and_an_expired_watch(
        kube, namespace, kubelet, proxy, via_proxy, tmp_path):
    base = f"/namespaces/{namespace}"
    faults = [proxy.inject("GET", f"/apis/batch/v1{base}/jobs/", "drop"),
              proxy.inject("POST", f"/apis/batch/v1{base}/jobs", "429"),
              proxy.inject("POST", f"/api/v1{base}/configmaps", "drop-after"),
              proxy.inject("GET", f"/api/v1{base}/pods?", "503"),
              proxy.inject("GET", "watch=true", "gone")]
    waiting = subprocess.Popen([sys.executable, "-m", "launcher", "train", *QUICKSTART, "--wait", "-o", "json",
                                "--namespace", namespace, "--kubeconfig", str(via_proxy),
                                "--runs-root", str(tmp_path / "runs")],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    run_id = json.loads(run_launch("render", *QUICKSTART, "--set", f"namespace={namespace}", "-o", "json").stdout
                        )["items"][-1]["metadata"]["name"]
    kubelet.succeed(kubelet.running(run_id, 0, timeout=60))
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["status"] == "Succeeded"
    assert [f.fired for f in faults] == [1] * len(faults)
    assert "Traceback" not in err
    relisted = [i for i, (method, path) in enumerate(proxy.requests) if "watch=true" in path]
    assert any("/pods?" in path and "watch" not in path for _, path in proxy.requests[relisted[0] + 1:]), \
        "a re-list after the 410"
    writes = [(method, path.split("?")[0].removeprefix("/apis/batch/v1").removeprefix("/api/v1"))
              for method, path in proxy.requests if method in ("POST", "PATCH")]
    first = [writes.index(w) for w in (("POST", f"{base}/jobs"), ("POST", f"{base}/configmaps"),
                                       ("PATCH", f"{base}/jobs/{run_id}"))]
    assert first == sorted(first), writes  # Job (suspended), then its ConfigMap, then unsuspended
    configmaps = kube.core.list_namespaced_config_map(namespace, label_selector=f"kubetrain.dev/run={run_id}")
    assert len(configmaps.items) == 1 and configmaps.items[0].metadata.owner_references[0].kind == "Job"


def test_status_logs_list_doctor_and_cancel_retry_past_503s(kube, namespace, kubelet, proxy, via_proxy, tmp_path):
    submitted = _launch(via_proxy, namespace, tmp_path, "train", *QUICKSTART, "-o", "json")
    run_id = json.loads(submitted.stdout.splitlines()[-1])["run_id"]
    kubelet.running(run_id, 0)
    for args in (("status", run_id), ("list",), ("doctor", run_id), ("logs", run_id), ("cancel", run_id)):
        proxy.inject("GET", f"/namespaces/{namespace}/", "503", times=2)
        result = _launch(via_proxy, namespace, tmp_path, *args)
        assert "Traceback" not in result.stderr, args
        if args[0] == "logs":  # kwok runs no kubelet to serve logs: one line, exit 2
            assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        else:
            assert result.returncode == 0, (args, result.stderr)
    assert all(fault.fired == 2 for fault in proxy.faults)


@pytest.fixture
def no_delete_kubeconfig(kube, namespace, tmp_path):
    """A kubeconfig for ServiceAccount `launcher-no-delete`, bound to rbac.yaml's Role without `delete` on Jobs."""
    rbac = client.RbacAuthorizationV1Api(kube.api)
    role = next(o for o in manifest_objects("rbac") if o["kind"] == "Role")
    role["metadata"] = {"name": "launcher-no-delete", "namespace": namespace}
    role["rules"][0]["verbs"].remove("delete")
    rbac.create_namespaced_role(namespace, role)
    kube.core.create_namespaced_service_account(namespace, {"metadata": {"name": "launcher-no-delete"}})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "launcher-no-delete"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "launcher-no-delete"},
        "subjects": [{"kind": "ServiceAccount", "name": "launcher-no-delete", "namespace": namespace}]})
    request = {"spec": {"audiences": [], "expirationSeconds": 600}}
    token = kube.core.create_namespaced_service_account_token("launcher-no-delete", namespace, request).status.token
    path = tmp_path / "no-delete.kubeconfig"
    lay = kube.control_plane.layout
    write_kubeconfig(path, lay.server, lay.serving_cert, "launcher-no-delete", token)
    return path


def test_a_role_missing_one_verb_is_named_in_one_line(kube, namespace, no_delete_kubeconfig, tmp_path):
    submitted = _launch(no_delete_kubeconfig, namespace, tmp_path, "train", *QUICKSTART, "-o", "json")
    assert submitted.returncode == 0, submitted.stderr
    run_id = json.loads(submitted.stdout.splitlines()[-1])["run_id"]
    refused = _launch(no_delete_kubeconfig, namespace, tmp_path, "cancel", run_id)
    assert refused.returncode == 2 and refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith(f"error: forbidden: cannot delete jobs.batch/{run_id} in namespace '{namespace}': ")
    assert 'cannot delete resource "jobs" in API group "batch"' in line and "manifests/rbac.yaml" in line


def test_a_missing_namespace_context_or_kubeconfig_is_one_line_and_exit_2(kube, tmp_path):
    config = str(kube.kubeconfig)
    lay = kube.control_plane.layout
    write_kubeconfig(tmp_path / "wrong-ca.kubeconfig", lay.server, Path(certifi.where()), "admin",
                     kube.control_plane.tokens["admin"])
    cases = [(("train", *QUICKSTART, "--namespace", "nowhere", "--kubeconfig", config),
              "error: namespace 'nowhere' (from -n/--namespace) not found: create it "
              "(`kubectl create namespace nowhere`"),
             (("status", "r", "--context", "nope", "--kubeconfig", config),
              f"error: context 'nope' does not exist in {config} (contexts: test); pass one of them to --context"),
             (("list", "--kubeconfig", str(tmp_path / "absent")), f"error: --kubeconfig {tmp_path / 'absent'}: "),
             (("list", "--kubeconfig", str(tmp_path / "wrong-ca.kubeconfig")),
              "error: list jobs.batch: the API server's certificate is not trusted by the kubeconfig's CA")]
    for args, start in cases:
        result = run_launch(*args, "--runs-root", str(tmp_path / "runs"))
        assert result.returncode == 2, (args, result.stderr)
        (line,) = result.stderr.splitlines()
        assert line.startswith(start), line


def test_refused_credentials_are_one_line_naming_the_call(kube, namespace, tmp_path):
    lay = kube.control_plane.layout
    write_kubeconfig(tmp_path / "stale.kubeconfig", lay.server, lay.serving_cert, "someone", "expired-token")
    result = run_launch("list", "--namespace", namespace, "--kubeconfig", str(tmp_path / "stale.kubeconfig"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: unauthorized: the API server refused the kubeconfig's credentials "
                                          "to list jobs.batch (expired token or wrong user?)"]
