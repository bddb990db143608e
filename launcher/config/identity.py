"""Stable identities: the hash of a resolved config, the run id built from it, the labels every object carries."""

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the models are built on first use: cluster commands read these labels without them
    from ..schema import Experiment

MANAGED_BY = "launch"
LABEL_PREFIX = "kubetrain.dev"
RUN_LABEL = f"{LABEL_PREFIX}/run"
SWEEP_LABEL = f"{LABEL_PREFIX}/sweep"
HASH_LABEL = f"{LABEL_PREFIX}/config-hash"
HASH_LENGTH = 8


def config_hash(experiment: "Experiment") -> str:
    """Short sha256 of the resolved config: the same config always hashes the same. The namespace is left
    out: it says where a run goes, not what it is, so one experiment has one run id in every namespace."""
    fields = experiment.model_dump(mode="json", exclude={"namespace"})
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def run_id_for(experiment: "Experiment", run_id: str | None = None) -> str:
    """The given run id, or <name>-<config hash>; raises ValueError if pod names would pass 63 characters."""
    from ..schema import check_run_id

    run_id = run_id or f"{experiment.name}-{config_hash(experiment)}"
    check_run_id(run_id, experiment.resources.nodes)
    return run_id


def labels(experiment: "Experiment", run_id: str) -> dict[str, str]:
    """Labels on every object of a run, so `launch list` and `kubectl -l` find them."""
    out = {
        "app.kubernetes.io/name": "trainer",
        "app.kubernetes.io/instance": run_id,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        RUN_LABEL: run_id,
        HASH_LABEL: config_hash(experiment),
    }
    if experiment.sweep:
        out[SWEEP_LABEL] = experiment.sweep
    return out
