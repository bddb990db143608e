"""The launcher's Role (manifests/rbac.yaml) is what the commands use and no more, checked by the real RBAC
authorizer with a real ServiceAccount token (TokenRequest, signed by the apiserver's key), the apiserver's
audit log (tests/cluster/audit-policy.yaml) and OwnerReferencesPermissionEnforcement on (OpenShift's
default)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from launcher.schema.contract import termination_message
from tests.children import started
from tests.cluster.controlplane import write_kubeconfig
from tests.cluster.namespaces import manifest_objects
from tests.cluster.wait import until
from tests.factory import ROOT, run_launch

pytestmark = pytest.mark.cluster

CONFIG = "configs/bert.yaml"  # two nodes: a Job, its ConfigMap and its headless Service
FINALIZERS = ("batch", "jobs/finalizers", "update")  # checked by admission, not a request of its own
MARKER = "audit-marker"


class as_launcher:
    """`launch ARGS` as ServiceAccount <namespace>/launcher, straight to the apiserver (no proxy)."""

    def __init__(self, kube, namespace: str, tmp_path: Path):
        request = {"spec": {"audiences": [], "expirationSeconds": 600}}
        token = kube.core.create_namespaced_service_account_token("launcher", namespace, request).status.token
        lay = kube.control_plane.layout
        self.kubeconfig = tmp_path / "launcher.kubeconfig"
        write_kubeconfig(self.kubeconfig, lay.server, lay.serving_cert, "launcher", token)
        self.where = ["--namespace", namespace, "--kubeconfig", str(self.kubeconfig),
                      "--runs-root", str(tmp_path / "runs")]

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return run_launch(*args, *self.where, timeout=120)

    def ok(self, *args: str) -> subprocess.CompletedProcess:
        result = self(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "forbidden" not in result.stderr, (args, result.stderr)
        return result

    def started(self, *args: str):
        return started([sys.executable, "-m", "launcher", *args, *self.where], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)


def the_job(kube, namespace: str) -> str:
    return until(lambda: next((j.metadata.name for j in kube.batch.list_namespaced_job(namespace).items), None),
                 60, "the run's Job")


def one_trial_sweep(folder: Path) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "Sweep", "name": "lr", "max_parallel": 1, "grid": {"train.lr": [1.0e-5]},
        "base": {"config": str(ROOT / CONFIG), "overrides": {"resources.nodes": 1}}}))
    return path


def role_permissions() -> set[tuple[str, str, str]]:
    """(API group, resource[/subresource], verb) of every rule of rbac.yaml's Role."""
    role = next(o for o in manifest_objects("rbac") if o["kind"] == "Role")
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def audited(kube, launch: as_launcher, user: str) -> set[tuple[str, str, str, int]]:
    """(API group, resource[/subresource], verb, status code) of every request `user` made, from the audit
    log; first waits for a last request of the user's (a `get` of Job MARKER) to be written."""
    def events():
        for line in kube.control_plane.layout.audit_log.read_text().splitlines():
            event = json.loads(line)
            if event["user"]["username"] == user and "objectRef" in event:  # the launcher makes no other request
                yield event
    with pytest.raises(client.ApiException):
        client.BatchV1Api(config.new_client_from_config(str(launch.kubeconfig))).read_namespaced_job(
            MARKER, launch.where[1])
    until(lambda: any(e["objectRef"].get("name") == MARKER for e in events()), 30, "the audit log to catch up")
    used = set()
    for event in events():
        ref = event["objectRef"]
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        if ref.get("name") != MARKER:
            used.add((ref.get("apiGroup", ""), resource, event["verb"], event["responseStatus"]["code"]))
    return used


@pytest.fixture
def launcher_api(kube, namespace) -> client.ApiClient:
    """A client authenticated as ServiceAccount <namespace>/launcher, over the same HTTPS endpoint."""
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[],
                                                                                  expiration_seconds=600))
    token = kube.core.create_namespaced_service_account_token("launcher", namespace, request).status.token
    admin = kube.api.configuration
    config = client.Configuration(host=admin.host, api_key={"authorization": token}, api_key_prefix={
        "authorization": "Bearer"})
    config.ssl_ca_cert = admin.ssl_ca_cert
    return client.ApiClient(config)


def _forbidden(call, *args, **kwargs) -> str:
    """Run a call that must be refused; return the apiserver's message."""
    with pytest.raises(client.ApiException) as raised:
        call(*args, **kwargs)
    assert raised.value.status == 403
    return json.loads(raised.value.body)["message"]


def test_every_command_runs_with_exactly_the_role_it_needs(kube, namespace, kubelet, tmp_path):
    """Every `launch` command, as ServiceAccount `launcher` with rbac.yaml's Role, on a control plane with
    OwnerReferencesPermissionEnforcement on: nothing is refused, and the permissions the apiserver's audit
    log shows were used are the Role's rules, no more and no fewer."""
    user = f"system:serviceaccount:{namespace}:launcher"
    launch = as_launcher(kube, namespace, tmp_path)
    with launch.started("train", CONFIG, "--wait") as waiting:
        run_id = the_job(kube, namespace)
        pods = [kubelet.running(run_id, index) for index in (0, 1)]
        for args in (("status", run_id), ("list",), ("doctor", run_id)):
            launch.ok(*args)
        log = launch("logs", run_id)  # the apiserver asks the node's kubelet, which kwok does not run
        assert log.returncode == 2 and "no preferred addresses" in log.stderr, log.stderr
        for pod in pods:
            kubelet.succeed(pod, message=termination_message(0, "finished: steps=80", 80))
        assert waiting.wait(timeout=120) == 0, waiting.stderr.read()
    launch.ok("logs", run_id, "-f")  # both attempts' ends, each log one line saying the kubelet cannot serve it
    launch.ok("cancel", run_id)
    launch.ok("resume", run_id)
    launch.ok("train", CONFIG, "--set", "train.lr=3e-5", "--dry-run", "server")
    queued = json.loads(launch.ok("train", CONFIG, "--set", "scheduling.queue=team-a", "-o", "json")
                        .stdout.splitlines()[-1])["run_id"]
    launch.ok("doctor", queued)  # reads the queued Job's Kueue Workloads
    sweep = one_trial_sweep(tmp_path)
    launch.ok("sweep", str(sweep))
    assert launch("sweep", "status", str(sweep)).returncode == 3  # its trial still to run
    used = audited(kube, launch, user)
    assert [event for event in used if event[3] == 403] == []
    assert {event[:3] for event in used} | {FINALIZERS} == role_permissions()


def test_the_role_lets_the_launcher_own_objects_where_owner_references_are_enforced(kube, namespace, tmp_path):
    """OwnerReferencesPermissionEnforcement (on here, as in OpenShift) refuses an owner reference with
    blockOwnerDeletion unless the creator may update the owner's finalizers; the Role grants that."""
    launch = as_launcher(kube, namespace, tmp_path)
    run_id = json.loads(launch.ok("train", CONFIG, "-o", "json").stdout.splitlines()[-1])["run_id"]
    owned = kube.core.read_namespaced_config_map(f"{run_id}-config", namespace).metadata.owner_references
    assert [(o.kind, o.name, o.block_owner_deletion) for o in owned] == [("Job", run_id, True)]
    assert not kube.batch.read_namespaced_job(run_id, namespace).spec.suspend


def test_the_launcher_service_account_cannot_read_secrets_or_act_elsewhere(kube, namespace, launcher_api):
    core, batch = client.CoreV1Api(launcher_api), client.BatchV1Api(launcher_api)
    user = f"system:serviceaccount:{namespace}:launcher"
    assert _forbidden(core.list_namespaced_secret, namespace) == \
        f'secrets is forbidden: User "{user}" cannot list resource "secrets" in API group "" ' \
        f'in the namespace "{namespace}"'
    _forbidden(core.read_namespaced_secret, "s3-credentials", namespace)
    _forbidden(core.create_namespaced_pod, namespace, {"metadata": {"name": "p"},
                                                       "spec": {"containers": [{"name": "c", "image": "i"}]}})
    _forbidden(batch.list_namespaced_job, "default")
    _forbidden(core.list_node)
