"""Rendered run objects in a test namespace, and creating objects the way the launcher will."""

from pathlib import Path

from kubernetes import client
from kubernetes.utils.create_from_yaml import create_from_yaml_single_item

from launcher.config.loading import load_run
from launcher.render.manifests import render

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def run_objects(config: str, namespace: str, *overrides: str) -> dict[str, dict]:
    """configs/<config>'s rendered objects by kind, moved to `namespace`, with `--set`-style overrides."""
    run = load_run(CONFIGS / config, [f"namespace={namespace}", *overrides])
    return {obj["kind"]: obj for obj in render(run.experiment, run.run_id)}


def create(api: client.ApiClient, obj: dict, dry_run: bool = False):
    """Create one object with strict field validation (unknown fields are errors, as they would be bugs)."""
    kwargs = {"field_validation": "Strict"}
    if dry_run:
        kwargs["dry_run"] = "All"
    return create_from_yaml_single_item(api, obj, **kwargs)


def owned_by(obj: dict, job: client.V1Job) -> dict:
    """`obj` with a controller owner reference to the created Job, as the submit code will set it."""
    ref = {"apiVersion": "batch/v1", "kind": "Job", "name": job.metadata.name, "uid": job.metadata.uid,
           "controller": True, "blockOwnerDeletion": True}
    return {**obj, "metadata": {**obj["metadata"], "ownerReferences": [ref]}}


def submit(api: client.ApiClient, objects: dict[str, dict]) -> client.V1Job:
    """Create the Job first, then its ConfigMap and Service owned by it; returns the created Job."""
    job = create(api, objects["Job"])
    for kind in ("ConfigMap", "Service"):
        if kind in objects:
            create(api, owned_by(objects[kind], job))
    return job

