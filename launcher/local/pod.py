"""Turn the rendered Job's pod template into local processes: volumes to folders, env to values. Pure."""

import sys
from dataclasses import dataclass
from pathlib import Path

from ..schema import Experiment
from ..schema import contract as c


@dataclass(frozen=True)
class LocalPod:
    """What one completion index runs, and the Job settings the supervisor enforces."""

    command: list[str]
    env: dict[str, str]
    completions: int
    backoff_limit: int
    grace_seconds: int
    deadline_seconds: int | None


def claim_folders(job: dict, volumes_root: Path, overrides: dict[str, Path]) -> dict[str, Path]:
    """Each persistentVolumeClaim of the pod -> a local folder (volumes_root/<claim> unless overridden)."""
    claims = [v["persistentVolumeClaim"]["claimName"] for v in _spec(job)["volumes"] if "persistentVolumeClaim" in v]
    return {claim: Path(overrides.get(claim, volumes_root / claim)).resolve() for claim in claims}


def local_config(exp: Experiment, folders: dict[str, Path]) -> Experiment:
    """The experiment as the trainer sees it here: every mount path points at the claim's local folder."""
    storage = exp.storage.model_copy(deep=True)
    storage.dataset.mount = str(folders[storage.dataset.claim])
    storage.model.mount = str(folders[storage.model.claim])
    if storage.checkpoints.claim:
        storage.checkpoints.mount = str(folders[storage.checkpoints.claim])
    return exp.model_copy(update={"storage": storage})


def local_pod(job: dict, config_path: Path, checkpoint_root: str) -> LocalPod:
    """The pod template of `job` as a local command and environment (index-independent part)."""
    spec = _spec(job)
    container = spec["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env |= {c.ENV_MASTER_ADDR: "127.0.0.1", c.ENV_CHECKPOINT_URI: checkpoint_root,
            c.ENV_EXPERIMENT_CONFIG: str(config_path)}
    args = [str(config_path) if a == c.CONFIG_PATH else a for a in container["args"]]
    return LocalPod(
        command=[sys.executable, "-m", "trainer", *args],
        env=env,
        completions=job["spec"]["completions"],
        backoff_limit=job["spec"]["backoffLimit"],
        grace_seconds=spec["terminationGracePeriodSeconds"],
        deadline_seconds=job["spec"].get("activeDeadlineSeconds"),
    )


def index_env(pod: LocalPod, index: int, port: int) -> dict[str, str]:
    """The downward-API part (NODE_RANK is the completion index, as the fieldRef gives it on a cluster),
    and this attempt's rendezvous port: a fresh one each attempt, so a dying gang's socket never blocks it."""
    return {**pod.env, c.ENV_NODE_RANK: str(index), "JOB_COMPLETION_INDEX": str(index), c.ENV_MASTER_PORT: str(port)}


def _spec(job: dict) -> dict:
    return job["spec"]["template"]["spec"]
