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


def _cache_with(tmp_path: Path, names: list[str]) -> Path:
    """A control-plane cache folder, as build.sh lays it out, holding stand-ins for `names` and the stamp."""
    bin_dir = Path(subprocess.run([str(BUILD), "--print-bin"], capture_output=True, text=True, check=True,
                                  env={"PATH": "/usr/bin:/bin", "KUBETRAIN_CACHE": str(tmp_path)}).stdout.strip())
    bin_dir.mkdir(parents=True)
    for name in [*names, ".stamp"]:
        (bin_dir / name).write_text("")
        (bin_dir / name).chmod(0o755)
    return bin_dir


BUILD = ROOT / "controlplane" / "build.sh"
BEFORE_THE_KUBELET = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]


def test_a_cached_control_plane_without_the_kubelet_is_rebuilt(tmp_path):
    _cache_with(tmp_path, BEFORE_THE_KUBELET)
    # No go on PATH: a build that starts stops at once, saying so; an up-to-date cache never gets there.
    result = subprocess.run([str(BUILD)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBETRAIN_CACHE": str(tmp_path)})
    assert result.returncode == 1
    assert "'go' is not on PATH" in result.stderr


def test_a_cached_control_plane_with_the_kubelet_is_up_to_date(tmp_path):
    bin_dir = _cache_with(tmp_path, [*BEFORE_THE_KUBELET, "kubelet"])
    result = subprocess.run([str(BUILD)], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBETRAIN_CACHE": str(tmp_path)})
    assert (result.returncode, result.stdout.strip()) == (0, f"control plane up to date: {bin_dir}")
