"""The `launch` commands of the foundation, run as real processes."""

import json
import subprocess
import sys

import yaml

from tests.factory import raw_config, run_launch


def test_render_prints_multi_document_yaml_in_apply_order():
    result = run_launch("render", "configs/bert.yaml")
    assert result.returncode == 0, result.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(result.stdout)]
    assert kinds == ["ConfigMap", "Service", "Job"]


def test_render_json_is_a_kubernetes_list():
    result = run_launch("render", "configs/smoke.yaml", "-o", "json")
    assert [item["kind"] for item in json.loads(result.stdout)["items"]] == ["ConfigMap", "Service", "Job"]


def test_set_overrides_fields_with_their_own_types(write_config):
    path = write_config(raw_config())
    result = run_launch("render", str(path), "--set", "train.lr=3e-5", "--set", "resources.nodes=2",
                        "--set", "image=123", "--set", "scheduling.node_selector.pool=a100")
    assert result.returncode == 0, result.stderr
    config_map, service, job = yaml.safe_load_all(result.stdout)
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert config["train"]["lr"] == 3e-5
    assert config["resources"]["nodes"] == 2 and job["spec"]["completions"] == 2
    assert config["image"] == "123"
    assert job["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "a100"}


def test_run_id_option_names_every_object():
    result = run_launch("render", "configs/smoke.yaml", "--run-id", "smoke-try-2")
    names = [doc["metadata"]["name"] for doc in yaml.safe_load_all(result.stdout)]
    assert names == ["smoke-try-2-config", "smoke-try-2", "smoke-try-2"]


def test_validate_prints_the_run_id_and_warnings():
    result = run_launch("validate", "configs/bert.yaml", "--set", "job.grace_period_seconds=90")
    assert result.returncode == 0
    assert result.stdout.startswith("ok: configs/bert.yaml -> run bert-reviews-")
    assert "warning: job.grace_period_seconds is 90 s but GKE spot" in result.stderr


def test_schema_is_json_schema_with_every_field_documented():
    schema = json.loads(run_launch("schema").stdout)
    assert schema["title"] == "Experiment"
    for name, definition in [("Experiment", schema), *schema["$defs"].items()]:
        for field, prop in definition.get("properties", {}).items():
            assert prop.get("description"), f"{name}.{field} has no docstring"


def test_help_is_fast_and_imports_neither_torch_nor_kubernetes():
    probe = ("import sys, time; t = time.perf_counter(); from launcher.cli.app import app; "
             "print(time.perf_counter() - t); print(','.join(m for m in ('torch', 'kubernetes', 'boto3') "
             "if m in sys.modules))")
    seconds, heavy = (run_launch_python(probe).stdout + "\n").split("\n")[:2]
    assert heavy == ""
    assert float(seconds) < 0.5
    assert run_launch("--help").returncode == 0


def run_launch_python(code: str):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_launch_alone_prints_its_help_on_stdout_and_exits_0_as_kubectl_does():
    bare, helped = run_launch(), run_launch("--help")
    assert (bare.returncode, bare.stderr) == (0, "")
    assert bare.stdout == helped.stdout and bare.stdout.startswith("Usage: launch [OPTIONS] COMMAND [ARGS]...")
    group = run_launch("data")
    assert (group.returncode, group.stderr) == (0, "") and group.stdout.startswith("Usage: launch data")
