"""The launcher's Role (manifests/rbac.yaml) is enough for a run and no more, checked by the real RBAC
authorizer with a real ServiceAccount token (TokenRequest, signed by the apiserver's key)."""

import json

import pytest
from kubernetes import client, watch

from tests.cluster.objects import run_objects, submit

pytestmark = pytest.mark.cluster


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


def test_the_launcher_service_account_can_do_everything_a_run_needs(kube, namespace, launcher_api):
    core, batch = client.CoreV1Api(launcher_api), client.BatchV1Api(launcher_api)
    who = client.AuthenticationV1Api(launcher_api).create_self_subject_review({}).status.user_info
    assert who.username == f"system:serviceaccount:{namespace}:launcher"
    objects = run_objects("quickstart.yaml", namespace)
    job = submit(launcher_api, objects).metadata.name  # create Job, ConfigMap and Service
    assert [j.metadata.name for j in batch.list_namespaced_job(namespace).items] == [job]
    events = watch.Watch().stream(batch.list_namespaced_job, namespace, timeout_seconds=2)
    assert any(e["object"].metadata.name == job for e in events)
    batch.patch_namespaced_job(job, namespace, {"spec": {"suspend": True}})  # cancel / resume
    core.list_namespaced_pod(namespace, label_selector=f"batch.kubernetes.io/job-name={job}")
    core.list_namespaced_event(namespace)
    core.read_namespaced_config_map(objects["ConfigMap"]["metadata"]["name"], namespace)
    review = client.AuthorizationV1Api(launcher_api).create_self_subject_access_review(
        {"spec": {"resourceAttributes": {"namespace": namespace, "verb": "get", "resource": "pods",
                                         "subresource": "log"}}})
    assert review.status.allowed  # `launch logs` (no kubelet here to serve the log itself)
    core.delete_namespaced_config_map(objects["ConfigMap"]["metadata"]["name"], namespace)
    batch.delete_namespaced_job(job, namespace, propagation_policy="Background")  # `launch cancel`


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
