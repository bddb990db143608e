"""The experiment config: one YAML file, one experiment. Pure pydantic; both halves import it."""

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .presets import ALL_MIG_PROFILES, ON_DEMAND_GRACE_SECONDS, SPOT_PRESETS

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$"

Quantity = Annotated[str, Field(pattern=QUANTITY, examples=["4Gi", "500Mi", "8"])]
Name = Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]


class Section(BaseModel):
    """Every config section rejects unknown keys and documents each field."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, validate_default=True)


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
    seed: int = 42
    """Seed for every random number generator; the same seed repeats the run."""
    log_every_n_steps: int = Field(10, gt=0)
    """How often metrics are logged."""


class Gpu(Section):
    count: int = Field(0, ge=0)
    """GPUs (or MIG slices, or GPU shares) per node; 0 trains on CPU."""
    mig_profile: str | None = None
    """Request MIG slices of this profile instead of whole GPUs, e.g. 1g.10gb."""
    mig_strategy: Literal["mixed", "single"] = "mixed"
    """The device plugin's MIG strategy: mixed advertises nvidia.com/mig-<profile>, single nvidia.com/gpu."""
    shared: bool = False
    """Request a time-sliced share of a GPU (nvidia.com/gpu.shared) instead of a whole GPU."""
    product: str | None = None
    """Require nodes whose nvidia.com/gpu.product label is this GPU model, e.g. NVIDIA-A100-SXM4-80GB."""

    @model_validator(mode="after")
    def _one_kind(self) -> "Gpu":
        if self.mig_profile is not None and self.mig_profile not in ALL_MIG_PROFILES:
            raise ValueError(f"unknown MIG profile {self.mig_profile!r}; allowed: {', '.join(ALL_MIG_PROFILES)}")
        if self.mig_profile and self.shared:
            raise ValueError("mig_profile and shared exclude each other")
        if (self.mig_profile or self.shared) and self.count == 0:
            raise ValueError("count must be at least 1 with a MIG profile or a shared GPU")
        if self.mig_profile and self.mig_strategy == "single" and not self.product:
            raise ValueError("the single MIG strategy needs product (the GPU model, e.g. NVIDIA-A100-SXM4-80GB)")
        return self


class Resources(Section):
    nodes: int = Field(1, gt=0)
    """Pods in the gang, one per node."""
    gpu: Gpu = Gpu()
    """Accelerators per node."""
    cpu_processes_per_node: int = Field(1, gt=0)
    """Training processes per node when no GPU is requested."""
    cpu: Quantity = "2"
    """CPU request and limit per pod."""
    memory: Quantity = "8Gi"
    """Memory request and limit per pod (binary suffixes: Mi, Gi)."""
    shm: Quantity = "1Gi"
    """Size of the in-memory /dev/shm used by DataLoader workers and NCCL."""

    @property
    def processes_per_node(self) -> int:
        """One process per GPU, MIG slice or GPU share; otherwise cpu_processes_per_node."""
        return self.gpu.count or self.cpu_processes_per_node


class Toleration(Section):
    key: str | None = None
    """Taint key to tolerate; empty with operator Exists tolerates everything."""
    operator: Literal["Equal", "Exists"] = "Equal"
    """Equal matches value; Exists matches any value."""
    value: str | None = None
    """Taint value to match with Equal."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match; empty matches all."""
    toleration_seconds: int | None = Field(None, ge=0)
    """How long a NoExecute taint is tolerated."""


class Scheduling(Section):
    spot: Literal["gke", "eks", "karpenter", "aks"] | None = None
    """Run on spot nodes of this provider: adds its node selector, tolerations and grace period."""
    tolerations: list[Toleration] = []
    """Extra tolerations, added to the preset's."""
    node_selector: dict[str, str] = {}
    """Extra node labels to require, merged over the preset's."""
    affinity: dict | None = None
    """A Kubernetes affinity object, passed through unchanged."""
    priority_class: str | None = None
    """PriorityClass of the pods."""
    queue: str | None = None
    """Kueue LocalQueue: the Job is created suspended and Kueue admits it."""


class Volume(Section):
    claim: Name
    """PersistentVolumeClaim name."""
    mount: str
    """Mount path inside the pod."""


class CheckpointStorage(Section):
    claim: Name | None = None
    """PersistentVolumeClaim holding checkpoints (exclusive with uri)."""
    access_mode: Literal["ReadWriteMany", "ReadWriteOnce"] = "ReadWriteMany"
    """Access mode of that claim; multi-node runs need ReadWriteMany."""
    mount: str = "/mnt/checkpoints"
    """Mount path of the checkpoint claim."""
    uri: str | None = Field(None, pattern=S3_URI)
    """s3://bucket/prefix for checkpoints (exclusive with claim)."""
    secret: Name | None = None
    """Secret holding AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the S3 target."""
    service_account: Name | None = None
    """ServiceAccount bound to a cloud role (IRSA, workload identity) for the S3 target."""
    endpoint_url: str | None = None
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
    backoff_limit: int = Field(3, ge=0)
    """Crashes tolerated before the Job fails; preemptions and requeues do not count."""
    grace_period_seconds: int | None = Field(None, ge=1)
    """Time between SIGTERM and SIGKILL; defaults to the spot preset's notice (120 s on demand)."""
    ttl_seconds_after_finished: int | None = Field(7 * 24 * 3600, ge=0)
    """Delete the finished Job after this long; empty keeps it."""
    active_deadline_seconds: int | None = Field(None, gt=0)
    """Fail the Job after this long, however it is doing."""
    master_port: int = Field(29500, ge=1024, le=65535)
    """Port of rank 0's rendezvous."""
    peer_timeout_seconds: int = Field(300, gt=0)
    """How long a rank waits in a collective for a lost peer before it gives up and requeues."""


class Experiment(Section):
    """One experiment: what to train, on what, where, and how to survive preemption."""

    name: Name
    """Experiment name: the run id is <name>-<config hash>."""
    namespace: Name = "default"
    """Kubernetes namespace of the run."""
    image: str = "ghcr.io/kubetrain/trainer:0.1.0"
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
