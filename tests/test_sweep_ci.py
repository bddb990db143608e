"""examples/ci: the in-cluster CronJob is valid under the official schemas and accepted by the real API server
(dryRun=All: a real one would start passes every hour), runs one `launch sweep` pass as ServiceAccount
`launcher` with concurrencyPolicy Forbid, on the files its ConfigMap volume lays out; the GitHub and GitLab
schedules reconcile the shipped sweep and gate on `launch sweep status`."""

import shlex
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.factory import ROOT
from tests.test_manifests import KUBERNETES_VERSIONS

CI = ROOT / "examples/ci"
CRONJOB = yaml.safe_load((CI / "sweep-cronjob.yaml").read_text())
POD = CRONJOB["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_cronjob_passes_strict_schema_validation(version):
    kubernetes_validate.validate(CRONJOB, version, strict=True)


def test_the_cronjob_runs_one_pass_as_the_launcher_service_account_never_two_at_once():
    [container] = POD["containers"]
    assert (CRONJOB["spec"]["concurrencyPolicy"], POD["serviceAccountName"]) == ("Forbid", "launcher")
    assert container["command"][:4] == ["python", "-m", "launcher", "sweep"]
    mount = next(m["mountPath"] for m in container["volumeMounts"])
    files = {f"{mount}/{item['path']}" for item in POD["volumes"][0]["configMap"]["items"]}
    sweep_file = container["command"][4]
    base = yaml.safe_load((ROOT / "configs/sweeps/bert-lr.yaml").read_text())["base"]["config"]
    assert files == {sweep_file, str((Path(sweep_file).parent / base).resolve())}


@pytest.mark.cluster
def test_the_api_server_accepts_the_cronjob(kube, namespace):
    from kubernetes import client

    body = {**CRONJOB, "metadata": {**CRONJOB["metadata"], "namespace": namespace}}
    created = client.BatchV1Api(kube.api).create_namespaced_cron_job(namespace, body, dry_run="All",
                                                                      field_validation="Strict")
    assert (created.spec.concurrency_policy, created.spec.schedule) == ("Forbid", "0 * * * *")


def commands(path: Path) -> list[str]:
    """Every shell line of a CI file's `run:` steps (GitHub) or `script:` (GitLab)."""
    doc = yaml.safe_load(path.read_text())
    if "jobs" in doc:
        return [line for job in doc["jobs"].values() for step in job["steps"]
                for line in str(step.get("run", "")).splitlines()]
    return [line for job in doc.values() for item in job["script"] for line in item.splitlines()]


@pytest.mark.parametrize("name", ["github-sweep.yml", "gitlab-sweep.yml"])
def test_ci_schedules_reconcile_the_shipped_sweep_and_gate_on_its_status(name):
    launches = [shlex.split(line.split("||")[0]) for line in commands(CI / name) if line.strip().startswith("launch")]
    assert [args[:3] for args in launches] == [["launch", "sweep", "configs/sweeps/bert-lr.yaml"],
                                               ["launch", "sweep", "status"]]
    assert (ROOT / launches[0][2]).is_file() and launches[1][3] == launches[0][2]
