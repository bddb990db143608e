"""Cloud and GPU facts the config is checked against and the renderer draws from (pure data)."""

import re
from dataclasses import dataclass, field

GPU_RESOURCE = "nvidia.com/gpu"
SHARED_GPU_RESOURCE = "nvidia.com/gpu.shared"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}

# A MIG profile as NVIDIA's tools and device plugin name it: <compute slices>g.<memory GB>gb. The "+me"
# (media extension) variants are left out: "+" is not allowed in a Kubernetes resource name.
MIG_PROFILE = r"^[1-7]g\.[1-9][0-9]*gb$"

# Known MIG profiles per GPU model (NVIDIA MIG user guide, "Supported MIG Profiles"), with a pattern for the
# nvidia.com/gpu.product label of that model. Used only to warn when product and profile do not match: a GPU
# this table does not know is still accepted.
MIG_PROFILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "A30-24GB": (r"A30(-|$)", ("1g.6gb", "2g.12gb", "4g.24gb")),
    "A100-40GB": (r"A100.*40GB", ("1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb")),
    "A100-80GB": (r"A100.*80GB", ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")),
    "H100-80GB": (r"H100-(80GB|PCIe|SXM5-80GB)", ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")),
    "H100-94GB": (r"H100-NVL", ("1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb")),
    "H100-96GB": (r"H100.*96GB", ("1g.12gb", "1g.24gb", "2g.24gb", "3g.48gb", "4g.48gb", "7g.96gb")),
    "H200-141GB": (r"(?<!G)H200", ("1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb")),
    "B200-180GB": (r"(?<!G)B200", ("1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb")),
}


def known_gpu(product: str) -> str | None:
    """The MIG table's name for a nvidia.com/gpu.product value, if exactly one entry matches it."""
    matches = [name for name, (pattern, _) in MIG_PROFILES.items() if re.search(pattern, product)]
    return matches[0] if len(matches) == 1 else None


def mig_mismatch(profile: str, product: str | None) -> str | None:
    """Why `profile` may not exist on `product` (or on any GPU the table knows, without a product); None if fine."""
    gpu = known_gpu(product) if product else None
    if gpu:
        profiles = MIG_PROFILES[gpu][1]
        return None if profile in profiles else (
            f"{profile} is not a MIG profile of the {gpu} ({product}); its profiles: {', '.join(profiles)}")
    if product or any(profile in profiles for _, profiles in MIG_PROFILES.values()):
        return None
    return (f"{profile} is not a MIG profile of any GPU this launcher knows ({', '.join(MIG_PROFILES)}); "
            "check `nvidia-smi mig -lgip` on a node")


def mig_resource(profile: str) -> str:
    """The extended resource NVIDIA's device plugin advertises for a MIG profile in its mixed strategy."""
    return f"nvidia.com/mig-{profile}"


# GKE's own GPU device plugin advertises every GPU, MIG partition and time-shared GPU as nvidia.com/gpu; a pod
# picks partitions and shares with these node labels, which GKE sets on such node pools (GKE docs: "Running
# multi-instance GPUs", "Share GPUs with multiple workloads using GPU time-sharing").
GKE_PARTITION_SIZE_LABEL = "cloud.google.com/gke-gpu-partition-size"
GKE_SHARING_STRATEGY_LABEL = "cloud.google.com/gke-gpu-sharing-strategy"
GKE_MAX_SHARED_CLIENTS_LABEL = "cloud.google.com/gke-max-shared-clients-per-gpu"
GKE_TIME_SHARING = "time-sharing"
GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"


def device_plugin_for(spot: str | None) -> str:
    """The GPU device plugin a config gets when it names none: GKE's on GKE spot nodes, NVIDIA's elsewhere."""
    return "gke" if spot == "gke" else "nvidia"


# Karpenter v1 blocks consolidation and drift of a node while a pod on it has this annotation, and does not
# evict such a pod when it drains the node, also for a spot interruption (karpenter.sh reference, "Well-Known
# Annotations"; the termination controller's IsEvictable skips them): the pod sees no SIGTERM until the
# NodePool's terminationGracePeriod runs out or the instance is reclaimed.
KARPENTER_DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"


@dataclass(frozen=True)
class SpotPreset:
    """How one provider marks spot nodes, and how long its pods get after the notice."""

    node_selector: dict[str, str]
    tolerations: list[dict[str, str]] = field(default_factory=list)
    grace_seconds: int = 30
    grace_cap_seconds: int | None = None
    cap_note: str = ""


SPOT_PRESETS: dict[str, SpotPreset] = {
    # Standard GKE node pools are not tainted by default; tolerating the conventional taint costs nothing.
    "gke": SpotPreset(
        node_selector={"cloud.google.com/gke-spot": "true"},
        tolerations=[{"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true",
                      "effect": "NoSchedule"}],
        grace_seconds=15,
        grace_cap_seconds=15,
        cap_note="GKE spot gives user pods 15 s unless the node pool extends graceful shutdown",
    ),
    # EC2 gives a 2-minute notice; leave 10 s for the kubelet to act on it.
    "eks": SpotPreset(node_selector={"eks.amazonaws.com/capacityType": "SPOT"}, grace_seconds=110),
    "karpenter": SpotPreset(
        node_selector={"karpenter.sh/capacity-type": "spot"},
        grace_seconds=110,
        # No karpenter.sh/do-not-disrupt: it would keep the interruption's drain from evicting the pod, so
        # the trainer would get no SIGTERM and commit no checkpoint (scheduling.karpenter_do_not_disrupt).
    ),
    "aks": SpotPreset(
        node_selector={"kubernetes.azure.com/scalesetpriority": "spot"},
        tolerations=[{"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
                      "effect": "NoSchedule"}],
        grace_seconds=30,
        grace_cap_seconds=30,
        cap_note="Azure's Preempt event comes at least 30 s ahead, and no more is promised",
    ),
}
ON_DEMAND_GRACE_SECONDS = 120
