"""Pure rendering: a resolved experiment and its run id become the Kubernetes objects of one run.

No clock, no files, no network: the same input always gives the same manifests (golden-file tested).
"""

import yaml

from ..config.identity import labels as run_labels
from .podspec import pod_template
from ..schema import EXIT_BAD_CONFIG, EXIT_REQUEUE, Experiment
from ..schema import contract as c
from ..schema.presets import SPOT_PRESETS, mig_mismatch

KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


def render(exp: Experiment, run_id: str) -> list[dict]:
    """ConfigMap, headless Service (multi-node only) and Indexed Job for one run, in apply order."""
    objects = [config_map(exp, run_id)]
    if exp.resources.nodes > 1:
        objects.append(headless_service(exp, run_id))
    objects.append(job(exp, run_id))
    return objects


def config_yaml(exp: Experiment) -> str:
    """The resolved config as the trainer reads it, every default spelled out."""
    return yaml.safe_dump(exp.model_dump(mode="json"), sort_keys=False)


def config_map(exp: Experiment, run_id: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(exp, f"{run_id}-config", run_id),
        "data": {c.CONFIG_FILE_NAME: config_yaml(exp)},
    }


def headless_service(exp: Experiment, run_id: str) -> dict:
    """Gives each pod the DNS name <run>-<index>.<run>, ready or not, for the rendezvous."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(exp, run_id, run_id),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {"batch.kubernetes.io/job-name": run_id},
            "ports": [{"name": "rendezvous", "port": exp.job.master_port, "targetPort": exp.job.master_port}],
        },
    }


def job(exp: Experiment, run_id: str) -> dict:
    nodes = exp.resources.nodes
    spec = {
        "completionMode": "Indexed",
        "completions": nodes,
        "parallelism": nodes,
        "backoffLimit": exp.job.backoff_limit,
        "podReplacementPolicy": "Failed",
        "podFailurePolicy": pod_failure_policy(),
        "template": pod_template(exp, run_id, run_labels(exp, run_id)),
    }
    if exp.job.ttl_seconds_after_finished is not None:
        spec["ttlSecondsAfterFinished"] = exp.job.ttl_seconds_after_finished
    if exp.job.active_deadline_seconds:
        spec["activeDeadlineSeconds"] = exp.job.active_deadline_seconds
    metadata = _metadata(exp, run_id, run_id)
    if exp.scheduling.queue:
        spec["suspend"] = True  # Kueue admits the Job by unsuspending it
        metadata["labels"][KUEUE_QUEUE_LABEL] = exp.scheduling.queue
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def pod_failure_policy() -> dict:
    """Preemptions and requeues are not failures; a bad config fails at once; crashes use backoffLimit."""
    def exit_codes(action: str, code: int) -> dict:
        return {"action": action,
                "onExitCodes": {"containerName": c.CONTAINER_NAME, "operator": "In", "values": [code]}}
    return {"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        exit_codes("Ignore", EXIT_REQUEUE),
        exit_codes("FailJob", EXIT_BAD_CONFIG),
    ]}


def warnings(exp: Experiment) -> list[str]:
    """Things that render fine but will likely hurt on a real cluster."""
    out = []
    preset = SPOT_PRESETS.get(exp.scheduling.spot or "")
    grace = exp.job.grace_period_seconds
    if preset and preset.grace_cap_seconds and grace > preset.grace_cap_seconds:
        out.append(f"job.grace_period_seconds is {grace} s but {preset.cap_note} "
                   f"({preset.grace_cap_seconds} s): a slow checkpoint may be cut off")
    ckpt = exp.storage.checkpoints
    if ckpt.uri and not (ckpt.secret or ckpt.service_account):
        out.append("storage.checkpoints: no secret or service_account for the s3 uri; "
                   "the pods rely on the node's own cloud credentials")
    return out + _spot_warnings(exp) + _gpu_warnings(exp)


def _spot_warnings(exp: Experiment) -> list[str]:
    """Settings that lose work when a spot node is reclaimed."""
    out = []
    if exp.scheduling.spot and not exp.checkpoint.on_preemption:
        out.append(f"checkpoint.on_preemption is false on {exp.scheduling.spot} spot nodes: every reclaim loses "
                   "the steps since the last periodic checkpoint")
    if exp.scheduling.karpenter_do_not_disrupt:
        out.append("scheduling.karpenter_do_not_disrupt: Karpenter will not evict these pods when a spot node is "
                   "interrupted, so no SIGTERM and no checkpoint; the NodePool needs a terminationGracePeriod")
    return out


def _gpu_warnings(exp: Experiment) -> list[str]:
    gpu = exp.resources.gpu
    problem = mig_mismatch(gpu.mig_profile, gpu.product) if gpu.mig_profile else None
    return [f"resources.gpu.mig_profile: {problem}"] if problem else []


def _metadata(exp: Experiment, name: str, run_id: str) -> dict:
    """Name and labels; the namespace only when the config (or -n) names one, so that `kubectl apply -n NS`
    and the context's namespace apply to the rest."""
    namespace = {"namespace": exp.namespace} if exp.namespace else {}
    return {"name": name, **namespace, "labels": run_labels(exp, run_id)}


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the embedded config) as readable literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def to_yaml(objects: list[dict]) -> str:
    """One multi-document YAML that `kubectl apply -f -` accepts."""
    return yaml.dump_all(objects, Dumper=_BlockDumper, sort_keys=False)
