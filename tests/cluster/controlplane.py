"""Start and stop one real control plane on 127.0.0.1: etcd, kube-apiserver, controller-manager, scheduler, kwok.

    with ControlPlane.start(workdir) as cp:
        api = cp.client()          # kubernetes.client.ApiClient, admin, over HTTPS

Data lives under `workdir`; every process is stopped on exit (see processes.py for the abnormal exits).
"""

import base64
import socket
import ssl
import time
import urllib.request
from pathlib import Path

import yaml
from kubernetes import client, config

from . import components, pki
from .binaries import binaries
from .processes import ProcessGroup
from .wait import exists, until


class ControlPlane:
    """A running control plane; use `ControlPlane.start(workdir)`."""

    def __init__(self, layout: components.Layout, procs: ProcessGroup, tokens: dict[str, str]):
        self.layout = layout
        self.procs = procs
        self.tokens = tokens

    @classmethod
    def start(cls, workdir: Path, timeout: float = 90) -> "ControlPlane":
        """Start every component and return once the API answers and the controllers have acted."""
        layout = components.Layout(workdir, binaries(), *_free_ports(3))
        layout.cert_dir.mkdir(parents=True, exist_ok=True)
        pki.write_service_account_key(layout.sa_key)
        cp = cls(layout, ProcessGroup(workdir), pki.write_token_file(layout.token_file))
        try:
            cp._boot(timeout)
        except BaseException:
            cp.stop()
            raise
        return cp

    def _boot(self, timeout: float) -> None:
        lay = self.layout
        self.procs.start("etcd", components.etcd(lay))
        self.procs.start("kube-apiserver", components.kube_apiserver(lay))
        self._wait_ready(timeout)
        for user in self.tokens:
            write_kubeconfig(lay.kubeconfig(user), lay.server, lay.serving_cert, user, self.tokens[user])
        self.procs.start("kube-controller-manager", components.kube_controller_manager(lay))
        self.procs.start("kube-scheduler", components.kube_scheduler(lay))
        self.procs.start("kwok", components.kwok(lay))
        # The ServiceAccount controller creating `default` proves the controller-manager is at work.
        core = client.CoreV1Api(self.client())
        self._until(lambda: exists(core.read_namespaced_service_account, "default", "default"), timeout,
                    "the controller-manager to create ServiceAccount default/default")

    def _wait_ready(self, timeout: float) -> None:
        """Poll /readyz until every apiserver check (etcd, RBAC bootstrap, ...) passes."""
        lay = self.layout
        request = urllib.request.Request(f"{lay.server}/readyz",
                                         headers={"Authorization": f"Bearer {self.tokens['admin']}"})
        self._until(lambda: _ready(request, lay.serving_cert), timeout, "kube-apiserver /readyz")

    def _until(self, check, timeout: float, what: str):
        """`until` that gives up at once, with the component's log, when a component has died."""
        def alive_and(check=check):
            self.procs.check_alive()
            return check()
        return until(alive_and, timeout, what, interval=0.2)

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (user `admin`, group system:masters)."""
        return self.layout.kubeconfig("admin")

    def client(self) -> client.ApiClient:
        """A fresh admin ApiClient, loaded from the kubeconfig as a user's tools would."""
        return config.new_client_from_config(config_file=str(self.kubeconfig))

    def stop(self) -> None:
        """Stop every component (idempotent)."""
        self.procs.stop()

    def __enter__(self) -> "ControlPlane":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def write_kubeconfig(path: Path, server: str, ca: Path, user: str, token: str) -> None:
    """A kubeconfig for one user with a bearer token, trusting the apiserver's own CA.

    The CA is inlined, so a copy of the file (make cluster's .cluster/kubeconfig) works on its own.
    """
    cluster = {"server": server, "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode()}
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": user}}],
    }
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)


def _free_ports(count: int) -> list[int]:
    """Ports the kernel says are free now. Held open together so the same port is not handed out twice."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _ready(request: urllib.request.Request, ca: Path) -> bool:
    """One /readyz probe, trusting the certificate the apiserver generated (absent until it has)."""
    if not ca.exists():
        return False
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(request, context=context, timeout=2) as response:
            return response.status == 200
    except OSError:  # not listening yet, not ready (HTTP 500), or the certificate is half written
        time.sleep(0.2)
        return False

