"""Config factories and helpers shared by the tests."""

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from launcher.config.identity import run_id_for
from launcher.config.loading import validate
from launcher.render.manifests import render
from launcher.schema import Experiment

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"

BASE = {
    "name": "exp",
    "model": {"path": "bert"},
    "data": {"train": "train.jsonl", "validation": "val.jsonl"},
    "storage": {
        "dataset": {"claim": "data", "mount": "/mnt/data"},
        "model": {"claim": "models", "mount": "/mnt/models"},
        "checkpoints": {"claim": "ckpt"},
    },
}


def raw_config(**sections) -> dict:
    """A minimal valid config dict with `section={...}` merged in (one level deep)."""
    raw = copy.deepcopy(BASE)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    return raw


def make_experiment(**sections) -> Experiment:
    return validate(raw_config(**sections), source="test.yaml")


def rendered(**sections) -> dict[str, dict]:
    """The rendered objects of a config, by kind."""
    exp = make_experiment(**sections)
    return {obj["kind"]: obj for obj in render(exp, run_id_for(exp))}


def pod_spec(**sections) -> dict:
    return rendered(**sections)["Job"]["spec"]["template"]["spec"]


def env_of(spec: dict) -> dict[str, dict]:
    return {e["name"]: e for e in spec["containers"][0]["env"]}


def config_writer(tmp_path):
    """A function that writes a config dict (or text) to a file and returns its path."""
    def write(content, name="exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path
    return write


def run_launch(*args: str, **kw) -> subprocess.CompletedProcess:
    """Run the real `launch` CLI in a fresh process, as a user would."""
    env = {**os.environ, "COLUMNS": "200", **kw.pop("env", {})}
    return subprocess.run([sys.executable, "-m", "launcher", *args], capture_output=True, text=True,
                          cwd=kw.pop("cwd", ROOT), env=env, **kw)


def start_make_cluster(kubeconfig: Path) -> tuple[subprocess.Popen, list[str]]:
    """`python -m tests.cluster` (what `make cluster` runs) writing its kubeconfig to `kubeconfig`, and the lines
    it printed up to "Ctrl-C to stop." (AssertionError with them if it ended before). The caller stops it."""
    runner = subprocess.Popen([sys.executable, "-m", "tests.cluster", "--kubeconfig", str(kubeconfig)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    while not lines or lines[-1] != "Ctrl-C to stop.":
        line = runner.stdout.readline()
        if not line:
            runner.wait()
            raise AssertionError(f"make cluster ended early: {''.join(lines)}")
        lines.append(line.rstrip("\n"))
    return runner, lines


DAY = 86400


def a_run(root: Path, run_id: str, days_ago: int, status: str = "Succeeded") -> Path:
    """A local run's folder as the runner leaves it: run.json, config.yaml (its start time), one log."""
    from launcher.local.state import RunState, log_path

    folder = root / run_id
    folder.mkdir(parents=True)
    history = [{"index": 0, "attempt": 1, "exit_code": 75, "drill": "preempt"},
               {"index": 0, "attempt": 2, "exit_code": 0 if status == "Succeeded" else None, "drill": None}]
    RunState(run_id, "3f2a1b4c", status=status, attempts=2, preemptions=1, history=history,
             metrics={"test_accuracy": 0.9}).save(folder)
    started = time.time() - days_ago * DAY - 60
    (folder / "config.yaml").write_text("name: bert\n")
    os.utime(folder / "config.yaml", (started, started))
    log_path(folder, 0, 2).parent.mkdir()
    log_path(folder, 0, 2).write_text("step 1\rstep 2\nfinished\n")
    return folder
