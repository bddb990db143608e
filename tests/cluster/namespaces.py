"""One namespace per test, set up like the `training` namespace of manifests/: ServiceAccounts, the launcher's
Role, and the volume claims the shipped configs name, each bound to a PersistentVolume of its own.
"""

import copy
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.utils.create_from_yaml import create_from_yaml_single_item

from .wait import exists, until

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
CLAIMS = ("datasets", "models", "checkpoints")
STORAGE_CLASS = "standard-rwx"  # the class manifests/volumes.yaml names; static PVs carry it too
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest"}


def manifest_objects(name: str) -> list[dict]:
    """The objects of manifests/<name>.yaml."""
    return [doc for doc in yaml.safe_load_all((MANIFESTS / f"{name}.yaml").read_text()) if doc]


def kustomization_objects(folder: Path = MANIFESTS) -> list[dict]:
    """The objects `kubectl apply -k folder` applies (its kustomization's plain resource files, in order)."""
    files = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    return [doc for f in files for doc in yaml.safe_load_all((folder / f).read_text()) if doc]


def apply_manifests(api: client.ApiClient, timeout: float = 30) -> str:
    """`kubectl apply -k manifests/` as a cluster admin would, plus what a cluster's storage provides: a
    static PersistentVolume of the claims' class for each claim. Objects that exist are left as they are.
    Returns the namespace, once its claims are Bound and its ServiceAccounts exist."""
    objects = kustomization_objects()
    (namespace,) = [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"]
    core = client.CoreV1Api(api)
    for obj in objects:
        _create_unless_present(lambda o=obj: create_from_yaml_single_item(api, o))
    claims = [o["metadata"]["name"] for o in objects if o["kind"] == "PersistentVolumeClaim"]
    for claim in claims:
        _create_unless_present(lambda c=claim: core.create_persistent_volume(_volume(namespace, c)))
    _await_ready(core, namespace, claims, timeout)
    return namespace


def _create_unless_present(create) -> None:
    try:
        create()
    except client.ApiException as exc:
        if exc.status != 409:
            raise


def in_namespace(objects: list[dict], namespace: str) -> list[dict]:
    """Copies of namespaced manifests moved to `namespace` (RoleBinding subjects too)."""
    moved = []
    for obj in map(copy.deepcopy, objects):
        obj["metadata"]["namespace"] = namespace
        for subject in obj.get("subjects", []):
            subject["namespace"] = namespace
        moved.append(obj)
    return moved


def create_namespace(api: client.ApiClient, namespace: str, claims=CLAIMS, timeout: float = 30) -> None:
    """A restricted-PSS namespace with rbac.yaml's objects and bound claims; returns once pods are admitted.

    Pods are refused until the namespace's ServiceAccounts exist, and the scheduler parks pods whose claims
    are unbound, so both are awaited here rather than in every test.
    """
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": namespace, "labels": RESTRICTED}})
    for obj in in_namespace(manifest_objects("rbac"), namespace):
        create_from_yaml_single_item(api, obj)
    for claim in claims:
        core.create_persistent_volume(_volume(namespace, claim))
        core.create_namespaced_persistent_volume_claim(namespace, _claim(claim))
    _await_ready(core, namespace, claims, timeout)


def _await_ready(core: client.CoreV1Api, namespace: str, claims, timeout: float) -> None:
    """Until the namespace's default ServiceAccount exists and every claim is Bound."""
    until(lambda: exists(core.read_namespaced_service_account, "default", namespace), timeout,
          f"ServiceAccount {namespace}/default")
    for claim in claims:
        until(lambda c=claim: core.read_namespaced_persistent_volume_claim(c, namespace).status.phase == "Bound",
              timeout, f"claim {namespace}/{claim} Bound")


def delete_namespace(api: client.ApiClient, namespace: str, claims=CLAIMS) -> None:
    """Start deleting the namespace and its volumes; the namespace controller finishes in the background."""
    core = client.CoreV1Api(api)
    core.delete_namespace(namespace, propagation_policy="Background")
    for claim in claims:
        core.delete_persistent_volume(_volume_name(namespace, claim))


def _volume_name(namespace: str, claim: str) -> str:
    return f"{namespace}-{claim}"


def _volume(namespace: str, claim: str) -> dict:
    """A PersistentVolume reserved for one claim (claimRef), so binding is immediate and certain."""
    return {
        "metadata": {"name": _volume_name(namespace, claim)},
        "spec": {
            "capacity": {"storage": "1Ti"},
            "accessModes": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            # Never mounted (kwok runs no containers); hostPath needs no driver.
            "hostPath": {"path": f"/tmp/kubetrain-test/{namespace}/{claim}"},
            "claimRef": {"namespace": namespace, "name": claim},
        },
    }


def _claim(claim: str) -> dict:
    return {
        "metadata": {"name": claim},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": STORAGE_CLASS,
                 "resources": {"requests": {"storage": "10Gi"}}},
    }

