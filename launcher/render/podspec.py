"""The trainer pod template: container, resources, environment, volumes, scheduling, security. Pure."""

from ..schema import Experiment
from ..schema import contract as c
from ..schema.models import SHM_MOUNT, single_strategy_product
from ..schema.presets import (
                              GKE_MAX_SHARED_CLIENTS_LABEL,
                              GKE_PARTITION_SIZE_LABEL,
                              GKE_SHARING_STRATEGY_LABEL,
                              GKE_TIME_SHARING,
                              GPU_PRODUCT_LABEL,
                              GPU_RESOURCE,
                              GPU_TOLERATION,
                              KARPENTER_DO_NOT_DISRUPT,
                              SHARED_GPU_RESOURCE,
                              SPOT_PRESETS,
                              mig_resource,
                              )

UID = 1000  # the non-root user Dockerfile.train creates


def pod_template(exp: Experiment, run_id: str, labels: dict[str, str]) -> dict:
    """The Job's pod template for one run."""
    spec = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": exp.job.grace_period_seconds,
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [_container(exp, run_id)],
        "volumes": _volumes(exp, run_id),
        **_scheduling(exp),
    }
    if exp.resources.nodes > 1:
        spec["subdomain"] = run_id
    if exp.storage.checkpoints.service_account:
        spec["serviceAccountName"] = exp.storage.checkpoints.service_account
    # The trainer never talks to the API server, so its token is never mounted. Cloud identities do not need
    # it: IRSA and EKS Pod Identity inject a projected token volume of their own, GKE workload identity
    # answers on the metadata server.
    spec["automountServiceAccountToken"] = False
    annotations = {"sidecar.istio.io/inject": "false"}
    if exp.scheduling.karpenter_do_not_disrupt:
        annotations[KARPENTER_DO_NOT_DISRUPT] = "true"
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec}


def gpu_limits(exp: Experiment) -> dict[str, str]:
    """Extended resources for the accelerators asked for, named as the node's device plugin advertises them:
    whole GPUs, MIG slices or GPU shares (GKE's plugin advertises all three as nvidia.com/gpu)."""
    gpu = exp.resources.gpu
    if gpu.count == 0:
        return {}
    if gpu.device_plugin == "gke":
        return {GPU_RESOURCE: str(gpu.count)}
    if gpu.shared:
        return {SHARED_GPU_RESOURCE: str(gpu.count)}
    if gpu.mig_profile and gpu.mig_strategy == "mixed":
        return {mig_resource(gpu.mig_profile): str(gpu.count)}
    return {GPU_RESOURCE: str(gpu.count)}  # whole GPUs, or MIG single strategy slices


def gpu_node_selector(exp: Experiment) -> dict[str, str]:
    """Node labels that pick the GPU kind: NVIDIA's product label, or GKE's partition and sharing labels."""
    gpu = exp.resources.gpu
    if gpu.device_plugin == "gke":
        selector = {GKE_PARTITION_SIZE_LABEL: gpu.mig_profile} if gpu.mig_profile else {}
        if gpu.shared:
            selector[GKE_SHARING_STRATEGY_LABEL] = GKE_TIME_SHARING
        if gpu.max_shared_clients:
            selector[GKE_MAX_SHARED_CLIENTS_LABEL] = str(gpu.max_shared_clients)
        return selector
    if not gpu.product:
        return {}
    single = gpu.mig_strategy == "single" and gpu.mig_profile
    return {GPU_PRODUCT_LABEL: single_strategy_product(gpu.product, gpu.mig_profile) if single else gpu.product}


def _container(exp: Experiment, run_id: str) -> dict:
    res = exp.resources
    compute = {"cpu": res.cpu, "memory": res.memory, **gpu_limits(exp)}
    return {
        "name": c.CONTAINER_NAME,
        "image": exp.image,
        "args": ["--config", c.CONFIG_PATH],
        "env": environment(exp, run_id),
        "resources": {"requests": compute, "limits": dict(compute)},
        "volumeMounts": _mounts(exp),
        "terminationMessagePath": c.TERMINATION_LOG,
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "runAsNonRoot": True},
    }


def environment(exp: Experiment, run_id: str) -> list[dict]:
    """The environment contract of DESIGN.md, plus S3 credentials as Secret references."""
    nodes = exp.resources.nodes
    master = f"{run_id}-0.{run_id}" if nodes > 1 else "127.0.0.1"
    env = [
        {"name": c.ENV_NODE_RANK, "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{c.COMPLETION_INDEX_ANNOTATION}']"}}},
        {"name": c.ENV_NNODES, "value": str(nodes)},
        {"name": c.ENV_NPROC_PER_NODE, "value": str(exp.resources.processes_per_node)},
        {"name": c.ENV_MASTER_ADDR, "value": master},
        {"name": c.ENV_MASTER_PORT, "value": str(exp.job.master_port)},
        {"name": c.ENV_RUN_ID, "value": run_id},
        {"name": c.ENV_CHECKPOINT_URI, "value": exp.storage.checkpoints.root},
        {"name": c.ENV_EXPERIMENT_CONFIG, "value": c.CONFIG_PATH},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    return env + _s3_env(exp)


def _s3_env(exp: Experiment) -> list[dict]:
    ckpt = exp.storage.checkpoints
    env = [{"name": "AWS_ENDPOINT_URL", "value": ckpt.endpoint_url}] if ckpt.endpoint_url else []
    if ckpt.secret:
        env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": ckpt.secret, "key": key}}}
                for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")]
    return env


def _mounts(exp: Experiment) -> list[dict]:
    st = exp.storage
    mounts = [
        {"name": "config", "mountPath": c.CONFIG_MOUNT_DIR, "readOnly": True},
        {"name": "dataset", "mountPath": st.dataset.mount, "readOnly": True},
        {"name": "model", "mountPath": st.model.mount, "readOnly": True},
        {"name": "dshm", "mountPath": SHM_MOUNT},
    ]
    if st.checkpoints.claim:
        mounts.append({"name": "checkpoints", "mountPath": st.checkpoints.mount})
    return mounts


def _volumes(exp: Experiment, run_id: str) -> list[dict]:
    st = exp.storage
    volumes = [
        {"name": "config", "configMap": {"name": f"{run_id}-config"}},
        {"name": "dataset", "persistentVolumeClaim": {"claimName": st.dataset.claim, "readOnly": True}},
        {"name": "model", "persistentVolumeClaim": {"claimName": st.model.claim, "readOnly": True}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": exp.resources.shm}},
    ]
    if st.checkpoints.claim:
        volumes.append({"name": "checkpoints", "persistentVolumeClaim": {"claimName": st.checkpoints.claim}})
    return volumes


def _spot(exp: Experiment) -> dict:
    preset = SPOT_PRESETS.get(exp.scheduling.spot or "")
    return vars(preset) if preset else {}


def _scheduling(exp: Experiment) -> dict:
    sched, gpu = exp.scheduling, exp.resources.gpu
    spot = _spot(exp)
    selector = {**spot.get("node_selector", {}), **sched.node_selector, **gpu_node_selector(exp)}
    tolerations = list(spot.get("tolerations", []))
    if gpu.count:
        tolerations.append(GPU_TOLERATION)
    tolerations += [_toleration(t) for t in sched.tolerations]
    out: dict = {}
    if selector:
        out["nodeSelector"] = selector
    if tolerations:
        out["tolerations"] = tolerations
    if sched.affinity:
        out["affinity"] = sched.affinity.rendered()
    if sched.priority_class:
        out["priorityClassName"] = sched.priority_class
    return out


def _toleration(t) -> dict:
    raw = t.model_dump(exclude_none=True)
    if "toleration_seconds" in raw:
        raw["tolerationSeconds"] = raw.pop("toleration_seconds")
    return raw
