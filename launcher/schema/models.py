"""The experiment config: one YAML file, one experiment. Pure pydantic; both halves import it."""

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from . import contract, kube_names, quantity
from .affinity import Affinity
from .base import DNS_LABEL, LabelKey, LabelValue, Name, Section
from .presets import GKE_ACCELERATOR_LABEL, MIG_PROFILE, ON_DEMAND_GRACE_SECONDS, SPOT_PRESETS, device_plugin_for

S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$"


def _number_as_text(value: object) -> object:
    """YAML reads `cpu: 2` and `cpu: 0.5` as numbers; a quantity is their text."""
    if isinstance(value, bool):
        return value  # left to fail as "not a string"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:f}".rstrip("0").rstrip(".")
    return value


Cpu = Annotated[str, BeforeValidator(_number_as_text), Field(pattern=quantity.QUANTITY, examples=["2", "500m"]),
                AfterValidator(quantity.check_cpu)]
Bytes = Annotated[str, BeforeValidator(_number_as_text), Field(pattern=quantity.QUANTITY, examples=["8Gi", "512Mi"]),
                  AfterValidator(quantity.check_bytes)]
SHM_MOUNT = "/dev/shm"
INT32_MAX = 2**31 - 1  # the API's int32 fields: backoffLimit, ttlSecondsAfterFinished, completions
INT64_MAX = 2**63 - 1  # the API's int64 fields: terminationGracePeriodSeconds, activeDeadlineSeconds
MAX_INDEXED_COMPLETIONS = 100_000  # an Indexed Job's limit on completions and parallelism (batch validation)
MountPath = Annotated[str, Field(pattern=r"^/", examples=["/mnt/data"])]
Image = Annotated[str, Field(pattern=r"^\S+$", examples=["ghcr.io/kubetrain/trainer:0.1.0"])]


class RandomInit(Section):
    """A freshly initialised BERT, for tests and smoke runs."""

    hidden_size: int = Field(32, gt=0)
    """Width of the hidden layers."""
    num_layers: int = Field(2, gt=0)
    """Number of transformer layers."""
    num_heads: int = Field(2, gt=0)
    """Attention heads per layer; must divide hidden_size."""
    intermediate_size: int = Field(64, gt=0)
    """Width of the feed-forward layer."""


class Model(Section):
    path: str
    """Folder holding a Hugging Face model (and tokenizer), relative to the model volume or absolute."""
    num_labels: int | None = Field(None, ge=2)
    """Number of classes; by default the number of distinct labels in the training data."""
    max_seq_len: int = Field(128, gt=0, le=8192)
    """Texts are truncated to this many tokens."""
    random_init: RandomInit | None = None
    """Build a small random BERT instead of loading weights; the tokenizer still comes from `path`."""


class Data(Section):
    train: str
    """Training file, relative to the dataset volume."""
    validation: str
    """Validation file, relative to the dataset volume."""
    test: str | None = None
    """Test file, relative to the dataset volume; evaluated once at the end."""
    format: Literal["jsonl", "csv", "parquet"] = "jsonl"
    """File format of all three files."""
    text_field: str = "text"
    """Column holding the input text."""
    label_field: str = "label"
    """Column holding the class label (a name or an integer)."""
    num_workers: int = Field(1, ge=0)
    """DataLoader worker processes per training process."""


class Train(Section):
    epochs: int = Field(1, gt=0)
    """Passes over the training data."""
    max_steps: int | None = Field(None, gt=0)
    """Stop after this many optimizer steps, even within an epoch."""
    batch_size: int = Field(16, gt=0)
    """Examples per process per micro-batch."""
    grad_accumulation: int = Field(1, gt=0)
    """Micro-batches per optimizer step."""
    lr: float = Field(5e-5, gt=0)
    """Peak learning rate of AdamW."""
    weight_decay: float = Field(0.01, ge=0)
    """AdamW weight decay."""
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    """Fraction of the optimizer steps spent warming the learning rate up linearly."""
    precision: Literal["32", "bf16-mixed", "16-mixed"] = "32"
    """Numeric precision; 16-mixed needs a GPU."""
    strategy: Literal["ddp", "fsdp"] = "ddp"
    """How the model is spread across processes."""
    seed: int = Field(42, ge=0, le=2**32 - 1)
    """Seed for every random number generator; the same seed repeats the run. 0 to 2^32-1: numpy's range,
    which Lightning's seed_everything enforces."""
    log_every_n_steps: int = Field(10, gt=0)
    """How often metrics are logged."""


class Gpu(Section):
    count: int = Field(0, ge=0)
    """GPUs per node; 0 trains on CPU. With a MIG profile or a shared GPU: 1 (one slice or share per pod)."""
    mig_profile: str | None = Field(None, pattern=MIG_PROFILE)
    """Request MIG slices of this profile instead of whole GPUs: <compute slices>g.<memory GB>gb as
    `nvidia-smi mig -lgip` lists it, e.g. 1g.10gb (A100-80GB), 1g.18gb (H200), 1g.23gb (B200), 1g.6gb (A30)."""
    mig_strategy: Literal["mixed", "single"] = "mixed"
    """NVIDIA's device plugin MIG strategy: mixed advertises nvidia.com/mig-<profile>, single nvidia.com/gpu
    on nodes labelled nvidia.com/gpu.product=<product>-MIG-<profile>. Not used with device_plugin gke."""
    shared: bool = False
    """Request a time-sliced share of a GPU instead of a whole GPU: nvidia.com/gpu.shared from NVIDIA's
    device plugin (sharing.timeSlicing with renameByDefault), nvidia.com/gpu on GKE time-sharing nodes."""
    product: LabelValue | None = None
    """Require nodes whose nvidia.com/gpu.product label (NVIDIA GPU feature discovery) is this GPU model,
    e.g. NVIDIA-A100-SXM4-80GB. GKE nodes carry no such label: there, select cloud.google.com/gke-accelerator
    in scheduling.node_selector."""
    device_plugin: Literal["nvidia", "gke"] | None = None
    """Whose device plugin advertises the GPUs: NVIDIA's (nvidia.com/gpu, nvidia.com/mig-<profile>,
    nvidia.com/gpu.shared) or GKE's (only nvidia.com/gpu; MIG and time-sharing are chosen by node labels).
    Empty: gke with scheduling.spot gke, nvidia otherwise."""
    max_shared_clients: int | None = Field(None, ge=2, le=48)
    """GKE time-sharing only: run on nodes whose GPUs are shared by exactly this many containers
    (node label cloud.google.com/gke-max-shared-clients-per-gpu; GKE allows 2 to 48). Empty: any."""

    @model_validator(mode="after")
    def _one_kind(self) -> "Gpu":
        if self.mig_profile and self.shared:
            raise ValueError("mig_profile and shared exclude each other")
        if (self.mig_profile or self.shared) and self.count == 0:
            raise ValueError("count must be 1 with a MIG profile or a shared GPU")
        if self.max_shared_clients is not None and not self.shared:
            raise ValueError("max_shared_clients applies to a shared GPU only (shared: true)")
        return self


class Resources(Section):
    nodes: int = Field(1, gt=0, le=MAX_INDEXED_COMPLETIONS)
    """Pods in the gang, one per node."""
    gpu: Gpu = Gpu()
    """Accelerators per node."""
    cpu_processes_per_node: int = Field(1, gt=0)
    """Training processes per node when no GPU is requested."""
    cpu: Cpu = "2"
    """CPU request and limit per pod: cores (2, 0.5) or millicores (500m)."""
    memory: Bytes = "8Gi"
    """Memory request and limit per pod in bytes: binary suffixes Mi, Gi (a lowercase m means milli)."""
    shm: Bytes = "1Gi"
    """Size of the in-memory /dev/shm used by DataLoader workers and NCCL; its pages count against memory."""

    @property
    def processes_per_node(self) -> int:
        """One process per GPU, MIG slice or GPU share; otherwise cpu_processes_per_node."""
        return self.gpu.count or self.cpu_processes_per_node

    @property
    def cpu_cores(self) -> Decimal:
        """The CPU limit in cores: '500m' -> 0.5."""
        return quantity.cpu_cores(self.cpu)


class Toleration(Section):
    key: LabelKey | None = None
    """Taint key to tolerate; empty with operator Exists tolerates everything."""
    operator: Literal["Equal", "Exists"] = "Equal"
    """Equal matches value; Exists matches any value (and takes none)."""
    value: LabelValue | None = None
    """Taint value to match with Equal."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; empty matches all."""
    toleration_seconds: int | None = Field(None, ge=0, le=INT64_MAX)
    """How long a NoExecute taint is tolerated (needs effect NoExecute)."""

    @model_validator(mode="after")
    def _as_the_api_server_checks(self) -> "Toleration":
        # k8s.io/kubernetes/pkg/apis/core/validation: ValidateTolerations.
        if not self.key and self.operator != "Exists":
            raise ValueError("a toleration without key must use operator Exists (it tolerates every taint)")
        if self.operator == "Exists" and self.value:
            raise ValueError("operator Exists takes no value; use operator Equal to match a value")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("toleration_seconds applies to effect NoExecute only")
        return self


class Scheduling(Section):
    spot: Literal["gke", "eks", "karpenter", "aks"] | None = None
    """Run on spot nodes of this provider: adds its node selector, tolerations and grace period."""
    tolerations: list[Toleration] = []
    """Extra tolerations, added to the preset's."""
    node_selector: dict[LabelKey, LabelValue] = {}
    """Extra node labels to require, merged over the preset's. With --set, everything after
    `node_selector.` is the key: --set scheduling.node_selector.example.com/pool=a."""
    affinity: Affinity | None = None
    """A Kubernetes affinity object, as in a pod spec (camelCase keys); checked as the API server checks it."""
    priority_class: Annotated[str, AfterValidator(kube_names.check_subdomain)] | None = None
    """PriorityClass of the pods."""
    queue: Name | None = None
    """Kueue LocalQueue: the Job is created suspended and Kueue admits it."""
    karpenter_do_not_disrupt: bool = False
    """Annotate the pods karpenter.sh/do-not-disrupt, so Karpenter never consolidates or drifts their node
    away mid-run. The cost: Karpenter v1 does not evict such pods when it drains a node, a spot interruption
    included, so the trainer gets no SIGTERM and commits no checkpoint before the instance is reclaimed (the
    run resumes from its last periodic checkpoint). The NodePool then needs a terminationGracePeriod, or nodes
    holding such pods never finish draining."""


class Volume(Section):
    claim: Name
    """PersistentVolumeClaim name."""
    mount: MountPath
    """Absolute mount path inside the pod."""


class CheckpointStorage(Section):
    claim: Name | None = None
    """PersistentVolumeClaim holding checkpoints (exclusive with uri)."""
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"] = "ReadWriteMany"
    """Access mode of that claim; multi-node runs need ReadWriteMany."""
    mount: MountPath = "/mnt/checkpoints"
    """Absolute mount path of the checkpoint claim."""
    uri: str | None = Field(None, pattern=S3_URI)
    """s3://bucket/prefix for checkpoints (exclusive with claim)."""
    secret: Name | None = None
    """Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the S3 target."""
    service_account: Name | None = None
    """ServiceAccount bound to a cloud role (IRSA, workload identity) for the S3 target."""
    endpoint_url: str | None = Field(None, pattern=r"^https?://\S+$")
    """S3-compatible endpoint (MinIO, R2, ...); AWS when empty."""
    keep_last: int = Field(3, gt=0)
    """Committed checkpoints kept per run; the newest valid one is never removed."""

    @model_validator(mode="after")
    def _one_target(self) -> "CheckpointStorage":
        if (self.claim is None) == (self.uri is None):
            raise ValueError("set exactly one of claim (a PVC) or uri (s3://bucket/prefix)")
        if self.claim and (self.secret or self.service_account or self.endpoint_url):
            raise ValueError("secret, service_account and endpoint_url apply to an s3 uri only")
        return self

    @property
    def root(self) -> str:
        """Where run folders live, as the trainer sees it: the mount path or the s3 URI."""
        return self.uri or self.mount


class Storage(Section):
    dataset: Volume
    """Claim holding the data files, mounted read-only."""
    model: Volume
    """Claim holding pretrained models and tokenizers, mounted read-only."""
    checkpoints: CheckpointStorage
    """Where checkpoints and the final model go."""


class Checkpoint(Section):
    every_n_steps: int | None = Field(100, gt=0)
    """Commit a checkpoint every N optimizer steps; empty disables."""
    every_n_minutes: float | None = Field(10, gt=0)
    """Commit a checkpoint every M minutes; empty disables."""
    on_preemption: bool = True
    """Commit a checkpoint on SIGTERM before exiting with the requeue code."""
    max_requeues_without_progress: int = Field(3, gt=0)
    """Requeues in a row with no new checkpoint before the trainer gives up with a crash code."""


class Job(Section):
    backoff_limit: int = Field(3, ge=0, le=INT32_MAX)
    """Crashes tolerated before the Job fails; preemptions and requeues do not count."""
    grace_period_seconds: int | None = Field(None, ge=1, le=INT64_MAX)
    """Time between SIGTERM and SIGKILL; defaults to the spot preset's notice (120 s on demand)."""
    ttl_seconds_after_finished: int | None = Field(7 * 24 * 3600, ge=0, le=INT32_MAX)
    """Delete the finished Job after this long; empty keeps it."""
    active_deadline_seconds: int | None = Field(None, gt=0, le=INT64_MAX)
    """Fail the Job after this long, however it is doing."""
    master_port: int = Field(29500, ge=1024, le=65535)
    """Port of rank 0's rendezvous."""
    peer_timeout_seconds: int = Field(300, gt=0, le=INT32_MAX)
    """How long a rank waits in a collective for a lost peer before it gives up and requeues."""


class Experiment(Section):
    """One experiment: what to train, on what, where, and how to survive preemption."""

    name: Name
    """Experiment name: the run id is <name>-<config hash>."""
    namespace: Name | None = None
    """Namespace the run goes to; default: `-n`, else the kubeconfig context's, else "default". Where a run
    goes, not what it is: not part of the run id."""
    image: Image = "ghcr.io/kubetrain/trainer:0.1.0"
    """Trainer image, built from Dockerfile.train."""
    sweep: Name | None = None
    """Sweep this experiment belongs to; set by `launch sweep`."""
    model: Model
    """The model to fine-tune."""
    data: Data
    """Training, validation and test data."""
    train: Train = Train()
    """Optimisation settings."""
    resources: Resources = Resources()
    """Nodes, accelerators, CPU and memory."""
    scheduling: Scheduling = Scheduling()
    """Where the pods may run."""
    storage: Storage
    """Volumes for data, models and checkpoints."""
    checkpoint: Checkpoint = Checkpoint()
    """When checkpoints are committed."""
    job: Job = Job()
    """Kubernetes Job settings."""

    @model_validator(mode="after")
    def _fill_grace_period(self) -> "Experiment":
        if self.job.grace_period_seconds is None:
            preset = SPOT_PRESETS.get(self.scheduling.spot or "")
            self.job.grace_period_seconds = preset.grace_seconds if preset else ON_DEMAND_GRACE_SECONDS
        return self

    @model_validator(mode="after")
    def _fill_device_plugin(self) -> "Experiment":
        gpu = self.resources.gpu
        if gpu.device_plugin is None:
            gpu.device_plugin = device_plugin_for(self.scheduling.spot)
        return self

    @model_validator(mode="after")
    def _one_slice_per_pod(self) -> "Experiment":
        # One process per slice or share, but CUDA enumerates only one MIG device per process (NVIDIA MIG user
        # guide, "CUDA Device Enumeration"), and two shares of one time-sliced GPU are the same device, which
        # NCCL refuses ("Duplicate GPU detected"); time-slicing gives a pod no more compute for more shares.
        gpu, nodes = self.resources.gpu, self.resources.nodes
        if gpu.count > 1 and (gpu.mig_profile or gpu.shared):
            kind = f"MIG {gpu.mig_profile} slices" if gpu.mig_profile else "shares of a time-sliced GPU"
            raise ValueError(
                f"resources.gpu.count: {gpu.count} {kind} in one pod start {gpu.count} processes, but "
                + ("a CUDA process sees only one MIG device" if gpu.mig_profile else
                   "the shares may be one GPU, which NCCL refuses to use twice")
                + f"; set resources.gpu.count: 1 and resources.nodes: {nodes * gpu.count} (one per pod)")
        return self

    @model_validator(mode="after")
    def _gpu_as_its_device_plugin_advertises(self) -> "Experiment":
        gpu = self.resources.gpu
        if gpu.device_plugin == "gke":
            _check_gke_gpu(gpu)
        elif gpu.max_shared_clients is not None:
            raise ValueError("resources.gpu.max_shared_clients: selects GKE time-sharing nodes; NVIDIA's device "
                             "plugin has no such label (set device_plugin: gke on GKE)")
        elif gpu.mig_profile and gpu.mig_strategy == "single":
            _check_single_strategy_product(gpu)
        return self

    @model_validator(mode="after")
    def _shm_fits_memory(self) -> "Experiment":
        # Pages of a memory-backed emptyDir are charged to the pod's memory cgroup (Kubernetes docs, emptyDir:
        # "files you write count against your container's memory limit"), so /dev/shm larger than the limit
        # only moves the OOM kill earlier.
        res = self.resources
        shm, memory = quantity.byte_count(res.shm), quantity.byte_count(res.memory)
        if shm >= memory:
            raise ValueError(
                f"resources.shm: {res.shm} of /dev/shm counts against the pod's memory limit "
                f"(resources.memory: {res.memory}), so DataLoader workers are OOM-killed before it fills; "
                f"set shm below memory (e.g. {quantity.format_bytes(max(memory // 4, 1))}) or raise memory")
        return self

    @model_validator(mode="after")
    def _distinct_mounts(self) -> "Experiment":
        st = self.storage
        mounts = {"storage.dataset.mount": st.dataset.mount, "storage.model.mount": st.model.mount}
        if st.checkpoints.claim:
            mounts["storage.checkpoints.mount"] = st.checkpoints.mount
        taken = {contract.CONFIG_MOUNT_DIR: "the config", SHM_MOUNT: "/dev/shm"}
        for path, mount in mounts.items():
            if mount.rstrip("/") in taken:
                raise ValueError(f"{path}: {mount} is already the mount path of {taken[mount.rstrip('/')]}; "
                                 "every volume needs a path of its own")
            taken[mount.rstrip("/")] = path
        return self

    @model_validator(mode="after")
    def _fsdp_needs_gpus(self) -> "Experiment":
        # Lightning 2.6 refuses FSDP with accelerator="cpu" (accelerator_connector._check_strategy_and_fallback).
        if self.train.strategy == "fsdp" and self.resources.gpu.count == 0:
            raise ValueError("train.strategy: fsdp needs GPUs (Lightning runs FSDP on CUDA only); use ddp on CPU")
        return self

    @model_validator(mode="after")
    def _shared_checkpoints(self) -> "Experiment":
        ckpt = self.storage.checkpoints
        if self.resources.nodes > 1 and ckpt.claim and ckpt.access_mode != "ReadWriteMany":
            raise ValueError(
                f"storage.checkpoints.access_mode: {self.resources.nodes} nodes write checkpoints to claim "
                f"{ckpt.claim!r}, "
                "which needs access_mode ReadWriteMany (a ReadWriteOnce claim mounts on one node only)"
            )
        return self


def _check_gke_gpu(gpu: Gpu) -> None:
    """GKE's device plugin: MIG partitions and shares are nvidia.com/gpu on labelled nodes, no product label."""
    if gpu.product:
        raise ValueError(f"resources.gpu.product: GKE nodes have no nvidia.com/gpu.product label; select the GPU "
                         f"with scheduling.node_selector {GKE_ACCELERATOR_LABEL}, e.g. nvidia-h100-80gb (or set "
                         "resources.gpu.device_plugin: nvidia where NVIDIA's GPU operator runs)")
    if gpu.mig_profile and gpu.mig_strategy == "single":
        raise ValueError("resources.gpu.mig_strategy: single is a setting of NVIDIA's device plugin; GKE "
                         "partitions are requested by partition size: leave mig_strategy unset")


def _check_single_strategy_product(gpu: Gpu) -> None:
    """NVIDIA's single MIG strategy labels nodes nvidia.com/gpu.product=<product>-MIG-<profile>: a label value."""
    if not gpu.product:
        raise ValueError("resources.gpu.product: the single MIG strategy needs the GPU model, "
                         "e.g. NVIDIA-A100-SXM4-80GB (nodes are labelled <product>-MIG-<profile>)")
    try:
        kube_names.check_label_value(single_strategy_product(gpu.product, gpu.mig_profile))
    except ValueError as exc:
        raise ValueError(f"resources.gpu.product: with the single MIG strategy the node label is {exc}") from None


def single_strategy_product(product: str, profile: str) -> str:
    """The nvidia.com/gpu.product value GPU feature discovery gives MIG nodes in the single strategy."""
    return f"{product}-MIG-{profile}"


def pod_name_length(run_id: str, nodes: int) -> int:
    """Longest pod name the Job controller generates: <job>-<index>-<5 random characters>."""
    return len(f"{run_id}-{nodes - 1}-") + 5


def check_run_id(run_id: str, nodes: int) -> None:
    """Raise ValueError if the run id is no DNS label or makes pod names over 63 characters."""
    if not re.match(DNS_LABEL, run_id):
        raise ValueError(f"run id {run_id!r} must be lowercase letters, digits and '-'")
    if (n := pod_name_length(run_id, nodes)) > 63:
        raise ValueError(f"run id {run_id!r} makes pod names of {n} characters (limit 63); "
                         f"shorten the name by {n - 63}")
