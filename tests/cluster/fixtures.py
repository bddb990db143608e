"""pytest fixtures for the real control plane (loaded from tests/conftest.py).

- `kube` (session): one control plane for the whole run, started on first use, stopped at the end, also on
  Ctrl-C (pytest tears session fixtures down when interrupted) and SIGTERM (made to act like Ctrl-C).
- `namespace` (per test): a fresh namespace set up like `training`; deleted after the test.
- `kubelet` (per test): FakeKubelet for that namespace.
- `proxy` (per test): a FaultProxy in front of the apiserver (faults, and container logs kwok cannot serve).

Missing binaries fail every test that needs them, with the fix; nothing is skipped. The cluster tests run
after the others (pytest_collection_modifyitems).
"""

import re
import secrets

import pytest

from .binaries import MissingControlPlane
from .faults import FaultProxy
from .kubelet import FakeKubelet
from .namespaces import create_namespace, delete_namespace
from .processes import interrupt_on_sigterm
from .session import Cluster, start_cluster


@pytest.fixture(scope="session")
def kube(tmp_path_factory) -> Cluster:
    """The session's control plane (see tests/cluster/session.py)."""
    interrupt_on_sigterm()
    try:
        cluster = start_cluster(tmp_path_factory.mktemp("cluster"))
    except MissingControlPlane as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def namespace(kube: Cluster, request) -> str:
    """A namespace of its own for the test, named after it."""
    name = _namespace_name(request.node.name)
    create_namespace(kube.api, name)
    yield name
    delete_namespace(kube.api, name)


@pytest.fixture
def proxy(kube: Cluster) -> FaultProxy:
    """A fault-injecting proxy in front of the apiserver (tests/cluster/faults.py), stopped after the test."""
    faults = FaultProxy(kube.control_plane.layout.server, kube.control_plane.layout.serving_cert)
    yield faults
    faults.stop()


@pytest.fixture
def kubelet(kube: Cluster, namespace: str) -> FakeKubelet:
    """Pod status writes as the kubelet makes them, in the test's namespace."""
    return FakeKubelet(kube.core, namespace)


def pytest_collection_modifyitems(items) -> None:
    """Run the cluster tests last (in their own order): the control plane then starts after the CPU-heavy
    trainer tests and lives only as long as it is used, instead of idling through them."""
    items.sort(key=lambda item: item.get_closest_marker("cluster") is not None)


def _namespace_name(test_name: str) -> str:
    """A DNS-1123 label from the test name, unique per run (parametrised names carry brackets)."""
    stem = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")[:50].rstrip("-")
    return f"{stem}-{secrets.token_hex(3)}"
