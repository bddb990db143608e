"""Golden files per shipped config, and every rendered or static manifest against the official schemas."""

import os

import kubernetes_validate
import pytest
import yaml

from launcher.config.loading import load_run
from launcher.render.manifests import render, to_yaml
from tests.factory import CONFIGS, ROOT

SHIPPED = sorted(CONFIGS.glob("*.yaml"))
GOLDEN = ROOT / "tests" / "golden"
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]
NOT_CORE = ("kueue.x-k8s.io/", "kustomize.config.k8s.io/")  # CRDs and kustomize: no official schema


def rendered_yaml(path) -> str:
    run = load_run(path)
    return to_yaml(render(run.experiment, run.run_id))


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.stem)
def test_rendered_manifests_match_their_golden_file(config):
    golden = GOLDEN / f"{config.stem}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered_yaml(config))
    assert rendered_yaml(config) == golden.read_text(), "rerun with UPDATE_GOLDEN=1 and review the diff"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.stem)
def test_rendered_manifests_pass_strict_schema_validation(config, version):
    for obj in yaml.safe_load_all(rendered_yaml(config)):
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("manifest", sorted((ROOT / "manifests").glob("*.yaml")), ids=lambda p: p.stem)
def test_static_manifests_pass_strict_schema_validation(manifest, version):
    for obj in yaml.safe_load_all(manifest.read_text()):
        if not obj["apiVersion"].startswith(NOT_CORE):
            kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_rejects_an_unknown_field():
    job = next(o for o in yaml.safe_load_all(rendered_yaml(CONFIGS / "smoke.yaml")) if o["kind"] == "Job")
    job["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, "1.30.0", strict=True)


def test_kustomization_lists_every_static_manifest():
    listed = yaml.safe_load((ROOT / "manifests" / "kustomization.yaml").read_text())["resources"]
    on_disk = {p.name for p in (ROOT / "manifests").glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(listed) == sorted(on_disk)
