"""What the real node needs of the machine, and the test image's contract with Dockerfile.train."""

import json
import re
import shlex
import subprocess
from pathlib import Path

from tests.cluster import images
from tests.cluster.realnode import APT_PACKAGES

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "controlplane" / "node-packages.sh"


def test_a_machine_without_the_packages_gets_one_line_with_the_command_that_installs_them(tmp_path):
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "KUBETRAIN_NODE_ROOT": str(tmp_path),
                                 "KUBETRAIN_NODE_NO_INSTALL": "1"})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the tests' real node needs ")
    assert line.endswith(f"fix: apt-get install -y {' '.join(APT_PACKAGES)}")


def test_a_machine_with_the_packages_needs_nothing(tmp_path):
    for probe in ("usr/bin/containerd", "usr/sbin/runc", "usr/lib/cni/bridge", "usr/bin/mmdebstrap",
                  "usr/bin/tini"):
        (tmp_path / probe).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / probe).write_text("")
        (tmp_path / probe).chmod(0o755)
    result = subprocess.run([str(SCRIPT)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "KUBETRAIN_NODE_ROOT": str(tmp_path),
                                 "KUBETRAIN_NODE_NO_INSTALL": "1"})
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def runtime_stage(dockerfile: Path = ROOT / "Dockerfile.train") -> list[tuple[str, str]]:
    """(instruction, arguments) of the last stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return [tuple(line.split(None, 1)) for line in lines[last_from:]]


def dockerfile_env(stage) -> dict[str, str]:
    """ENV KEY=value pairs of the stage (shell-style quoting)."""
    pairs = [word.split("=", 1) for instr, args in stage if instr == "ENV" for word in shlex.split(args)]
    return dict(pairs)


def exec_form(stage, instruction: str) -> list[str]:
    (args,) = [args for instr, args in stage if instr == instruction]
    return json.loads(args)


def test_the_test_image_starts_the_trainer_as_the_shipped_image_does():
    stage, config = runtime_stage(), images.trainer_config()
    assert config["Entrypoint"] == exec_form(stage, "ENTRYPOINT")
    assert config["Cmd"] == exec_form(stage, "CMD")
    assert config["Entrypoint"][:2] == ["/usr/bin/tini", "--"]
    assert config["Entrypoint"] + config["Cmd"] == [
        "/usr/bin/tini", "--", "python", "-m", "trainer", "--config", "/etc/experiment/config.yaml"]


def test_the_test_image_runs_as_the_shipped_images_user():
    (user,) = [args for instr, args in runtime_stage() if instr == "USER"]
    assert images.trainer_config()["User"] == user == "1000:1000"


def test_the_test_image_has_the_shipped_images_environment():
    shipped = dockerfile_env(runtime_stage())
    test_image = dict(pair.split("=", 1) for pair in images.trainer_config()["Env"])
    for key in ("PYTHONUNBUFFERED", "HF_HUB_OFFLINE", "HF_HOME"):
        assert test_image[key] == shipped[key], key
