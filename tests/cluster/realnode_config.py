"""Configuration files of the real node (pure: a NodeLayout in, file contents out): containerd's config and
base runtime spec, the CNI network, and the KubeletConfiguration.

What this machine needs, each found the hard way (issue 18):
- containerd's CRI `restrict_oom_score_adj`: no process but PID 1 may lower oom_score_adj here, and runc fails
  when asked to; the kubelet's own `oomScoreAdj` is left at 0 for the same reason.
- kubelet `failCgroupV1: false` (the hosts are cgroup v1; refused by default since 1.35), `cgroupDriver:
  cgroupfs` (no systemd), `failSwapOn: false`; the field is `podLogsDir` (`podLogsDirectory` is ignored).
- The kubelet refuses a loopback node IP: the node IP is the pods' bridge's own address, and the apiserver
  reaches the kubelet through the node's Hostname address, `localhost`, which /etc/hosts maps to 127.0.0.1.
"""

import json
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "localhost"  # the Hostname address the apiserver dials: 127.0.0.1 through /etc/hosts
NODE_LABEL = "kubetrain.test/real-node"  # label and NoSchedule taint key: only tests that opt in land here
CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
CGROUP_FS = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class NodeLayout:
    """Where one real node keeps its files, and its port; everything else (bridge, subnet, cgroup root) is
    derived from the port, so two clusters on one machine never share any of it."""

    root: Path
    kubelet_port: int
    src: Path  # the checkout, mounted read-only at images.SRC_MOUNT
    site_packages: Path  # the venv's, mounted read-only at images.SITE_MOUNT

    @property
    def socket(self) -> Path:
        """containerd's gRPC socket."""
        return self.root / "containerd" / "containerd.sock"

    @property
    def bridge(self) -> str:
        """The pods' Linux bridge (names are at most 15 characters)."""
        return f"kt{self.kubelet_port}"

    @property
    def subnet_prefix(self) -> str:
        """The first three octets of the pods' /24, outside the service (10.96/16) and kwok (10.244/16) CIDRs."""
        return f"10.{100 + (self.kubelet_port // 256) % 100}.{self.kubelet_port % 256}"

    @property
    def node_ip(self) -> str:
        """The bridge's address: the node's InternalIP and the pods' gateway."""
        return f"{self.subnet_prefix}.1"

    @property
    def cgroup_root(self) -> str:
        """The kubelet's cgroupRoot: kubepods and every pod's cgroup live below it, in every hierarchy."""
        return f"/kubetrain-{self.kubelet_port}"

    @property
    def kubelet_dir(self) -> Path:
        """The kubelet's --root-dir (pod volumes are mounted below it)."""
        return self.root / "kubelet"

    @property
    def pod_logs(self) -> Path:
        """The kubelet's podLogsDir: what `kubectl logs` reads."""
        return self.root / "pod-logs"


def containerd_config(lay: NodeLayout, pause_image: str) -> str:
    """containerd's config.toml (version 2): its own root, state and socket; CRI with our CNI network."""
    c = lay.root / "containerd"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{c / 'root'}"
state = "{c / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{lay.socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{c / 'opt'}"
[{cri}]
  sandbox_image = "{pause_image}"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
  base_runtime_spec = "{c / 'base-spec.json'}"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{c / 'runc'}"
[{cri}.cni]
  bin_dir = "{CNI_BIN_DIR}"
  conf_dir = "{lay.root / 'cni' / 'net.d'}"
"""


def base_runtime_spec(default_spec: dict, lay: NodeLayout, src_mount: str, site_mount: str) -> dict:
    """containerd's default OCI spec (`ctr oci spec`) plus read-only bind mounts of the checkout and the
    venv's site-packages: the node's stand-in for the project installed in the real image."""
    spec = json.loads(json.dumps(default_spec))
    for source, destination in ((lay.src, src_mount), (lay.site_packages, site_mount)):
        spec["mounts"].append({"destination": destination, "type": "bind", "source": str(source),
                               "options": ["rbind", "ro", "nosuid", "nodev"]})
    return spec


def cni_network(lay: NodeLayout) -> dict:
    """A bridge + host-local network: each pod its own netns on the node's bridge; no masquerade (pods
    reach each other and the node, nothing else)."""
    ipam = {"type": "host-local", "dataDir": str(lay.root / "cni" / "ipam"),
            "ranges": [[{"subnet": f"{lay.subnet_prefix}.0/24", "gateway": lay.node_ip}]]}
    bridge = {"type": "bridge", "bridge": lay.bridge, "isGateway": True, "ipMasq": False,
              "hairpinMode": True, "ipam": ipam}
    return {"cniVersion": "0.4.0", "name": "kubetrain", "plugins": [bridge]}


def kubelet_config(lay: NodeLayout, healthz_port: int) -> dict:
    """The KubeletConfiguration: serving on 127.0.0.1 only, anonymous and allow-all there (the apiserver
    connects without a client certificate, as to kwok's nodes; nothing else can reach loopback)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": "127.0.0.1", "port": lay.kubelet_port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": f"unix://{lay.socket}",
        "cgroupDriver": "cgroupfs", "cgroupRoot": lay.cgroup_root, "failCgroupV1": False,
        "failSwapOn": False, "oomScoreAdj": 0,
        "podLogsDir": str(lay.pod_logs),
        "volumePluginDir": str(lay.root / "volume-plugins"),
        "registerWithTaints": [{"key": NODE_LABEL, "value": "true", "effect": "NoSchedule"}],
        "resolvConf": "",  # pods never see the host's resolvers: no query leaves the machine
        "clusterDomain": "cluster.local",
        # Imported images cannot be pulled again: never garbage-collect them; never evict for a full disk.
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "serializeImagePulls": False,
        "rotateCertificates": False, "serverTLSBootstrap": False,
    }


def kubelet_argv(kubelet: Path, lay: NodeLayout, kubeconfig: Path) -> list[str]:
    """The kubelet's command line (what KubeletConfiguration cannot say)."""
    return [str(kubelet), f"--config={lay.root / 'kubelet.yaml'}", f"--kubeconfig={kubeconfig}",
            f"--root-dir={lay.kubelet_dir}", f"--cert-dir={lay.root / 'kubelet-pki'}",
            f"--hostname-override={NODE_NAME}", f"--node-ip={lay.node_ip}",
            f"--node-labels={NODE_LABEL}=true", "--v=1"]
