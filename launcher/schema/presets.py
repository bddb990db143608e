"""Cloud and GPU facts the config is checked against and the renderer draws from (pure data)."""

from dataclasses import dataclass, field

GPU_RESOURCE = "nvidia.com/gpu"
SHARED_GPU_RESOURCE = "nvidia.com/gpu.shared"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}

# MIG profiles per GPU model (NVIDIA MIG user guide, "Supported MIG Profiles").
# The "+me" media-extension variants are left out: "+" is not allowed in a Kubernetes resource name.
MIG_PROFILES: dict[str, tuple[str, ...]] = {
    "A100-40GB": ("1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"),
    "A100-80GB": ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-80GB": ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"),
    "H100-94GB": ("1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"),
    "H100-96GB": ("1g.12gb", "1g.24gb", "2g.24gb", "3g.48gb", "4g.48gb", "7g.96gb"),
}
ALL_MIG_PROFILES: tuple[str, ...] = tuple(sorted({p for ps in MIG_PROFILES.values() for p in ps}))


def mig_resource(profile: str) -> str:
    """The extended resource the device plugin's mixed strategy advertises for a MIG profile."""
    return f"nvidia.com/mig-{profile}"


@dataclass(frozen=True)
class SpotPreset:
    """How one provider marks spot nodes, and how long its pods get after the notice."""

    node_selector: dict[str, str]
    tolerations: list[dict[str, str]] = field(default_factory=list)
    grace_seconds: int = 30
    grace_cap_seconds: int | None = None
    pod_annotations: dict[str, str] = field(default_factory=dict)
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
        # Blocks voluntary consolidation only; a spot interruption still evicts the pod.
        pod_annotations={"karpenter.sh/do-not-disrupt": "true"},
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
