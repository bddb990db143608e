"""Command lines of the control-plane components (pure: paths and ports in, argv out)."""

from dataclasses import dataclass
from pathlib import Path

STAGES_FILE = Path(__file__).with_name("kwok_stages.yaml")
AUDIT_POLICY = Path(__file__).with_name("audit-policy.yaml")
SERVICE_CIDR = "10.96.0.0/16"
ISSUER = "https://kubernetes.default.svc.cluster.local"

# What the tests exercise, and what those controllers need to work: ServiceAccounts and their tokens
# (admission refuses pods until the namespace's ServiceAccount exists), volume binding and its protection
# finalizers (else deleting a claim or a namespace hangs), the root CA ConfigMap pods mount; the resource
# quota controller, which fills in a ResourceQuota's status.used (the ResourceQuota admission plugin, on by
# default, refuses every pod of a namespace whose quota has no status yet).
CONTROLLERS = (
    "job-controller",
    "garbage-collector-controller",
    "ttl-after-finished-controller",
    "pod-garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "namespace-controller",
    "persistentvolume-binder-controller",
    "persistentvolumeclaim-protection-controller",
    "persistentvolume-protection-controller",
    "root-ca-certificate-publisher-controller",
    "resourcequota-controller",
)


@dataclass(frozen=True)
class Layout:
    """Where one control plane keeps its files, and the ports it listens on (all on 127.0.0.1)."""

    root: Path
    bin: dict[str, Path]
    etcd_port: int
    etcd_peer_port: int
    apiserver_port: int

    @property
    def cert_dir(self) -> Path:
        """Where the apiserver writes its self-signed serving certificate and key."""
        return self.root / "pki"

    @property
    def serving_cert(self) -> Path:
        """The apiserver's self-generated certificate, followed by the CA that signed it."""
        return self.cert_dir / "apiserver.crt"

    @property
    def sa_key(self) -> Path:
        """The ServiceAccount token signing key (apiserver signs and verifies, controller-manager signs)."""
        return self.root / "sa.key"

    @property
    def token_file(self) -> Path:
        """The apiserver's --token-auth-file: one bearer token per user of pki.USERS."""
        return self.root / "tokens.csv"

    def kubeconfig(self, user: str) -> Path:
        """The kubeconfig of one user of pki.USERS."""
        return self.root / f"{user.replace(':', '-')}.kubeconfig"

    @property
    def audit_log(self) -> Path:
        """The apiserver's audit log (JSON lines; what AUDIT_POLICY logs: ServiceAccounts' requests)."""
        return self.root / "audit.log"

    @property
    def server(self) -> str:
        """The apiserver's URL."""
        return f"https://127.0.0.1:{self.apiserver_port}"


def etcd(lay: Layout) -> list[str]:
    """A single-member etcd on two ports of 127.0.0.1, data under the layout's root."""
    client, peer = f"http://127.0.0.1:{lay.etcd_port}", f"http://127.0.0.1:{lay.etcd_peer_port}"
    return [str(lay.bin["etcd"]), "--name=test", f"--data-dir={lay.root / 'etcd'}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=test={peer}",
            # Throwaway data: skipping fsync makes every API write several times faster on a slow disk.
            "--unsafe-no-fsync", "--log-level=warn"]


def kube_apiserver(lay: Layout) -> list[str]:
    """HTTPS on 127.0.0.1, static tokens, Node+RBAC authorization, the default admission plugins and
    OwnerReferencesPermissionEnforcement, an audit log of the ServiceAccounts' requests."""
    return [str(lay.bin["kube-apiserver"]),
            f"--etcd-servers=http://127.0.0.1:{lay.etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={lay.apiserver_port}",
            # No --tls-cert-file: the apiserver writes a self-signed certificate for 127.0.0.1 here.
            f"--cert-dir={lay.cert_dir}",
            f"--token-auth-file={lay.token_file}",
            "--authorization-mode=Node,RBAC",
            # On by default in OpenShift: setting blockOwnerDeletion needs `update` on the owner's finalizers.
            "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
            f"--audit-policy-file={AUDIT_POLICY}", f"--audit-log-path={lay.audit_log}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # The `kubernetes` Service's endpoints may not be loopback; no pod here dials the API anyway.
            "--endpoint-reconciler-type=none",
            f"--service-account-issuer={ISSUER}",
            f"--service-account-key-file={lay.sa_key}",
            f"--service-account-signing-key-file={lay.sa_key}",
            # The real node's (realnode.py) Hostname address is `localhost`: logs and exec reach its kubelet on
            # 127.0.0.1; its InternalIP (the pods' bridge) is only the fallback, as for kwok's nodes.
            "--kubelet-preferred-address-types=Hostname,InternalIP",
            "--profiling=false"]


def kube_controller_manager(lay: Layout) -> list[str]:
    """The controllers of CONTROLLERS, no leader election (there is one of everything)."""
    return [str(lay.bin["kube-controller-manager"]),
            f"--kubeconfig={lay.kubeconfig('system:kube-controller-manager')}",
            "--leader-elect=false",
            "--secure-port=0",  # nothing scrapes its metrics; one fewer port to find
            f"--controllers={','.join(CONTROLLERS)}",
            # Each controller calls the API as its own ServiceAccount, as on a real cluster, so RBAC applies.
            "--use-service-account-credentials=true",
            f"--root-ca-file={lay.serving_cert}",
            f"--service-account-private-key-file={lay.sa_key}",
            # A claim created just after its pre-bound volume can miss the first pass and then waits for the
            # periodic resync (15 s by default), which would dominate a test's set-up time.
            "--pvclaimbinder-sync-period=1s",
            "--concurrent-job-syncs=10"]


def kube_scheduler(lay: Layout) -> list[str]:
    """The default scheduler, as user system:kube-scheduler, no leader election."""
    return [str(lay.bin["kube-scheduler"]),
            f"--kubeconfig={lay.kubeconfig('system:kube-scheduler')}",
            "--leader-elect=false", "--secure-port=0"]


def kwok(lay: Layout) -> list[str]:
    """kwok with our stages, managing the nodes annotated kwok.x-k8s.io/node=fake, renewing their leases."""
    return [str(lay.bin["kwok"]),
            f"--kubeconfig={lay.kubeconfig('kwok')}",
            f"--config={STAGES_FILE}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--node-lease-duration-seconds=40",
            "--cidr=10.244.0.0/16"]
