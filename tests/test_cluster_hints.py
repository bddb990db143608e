"""Every command a cluster command prints works as printed, and a run is found where it was submitted: the
config's namespace, not only the context's (the newcomer's `launch train configs/bert.yaml` journey)."""

import json
import re
import shlex

import pytest

from tests.factory import run_launch

pytestmark = pytest.mark.cluster


@pytest.fixture
def launch(kube):
    """`launch ARGS` with the admin kubeconfig in $KUBECONFIG (its context names no namespace: `default`),
    so printed commands run exactly as printed."""
    def run(*args: str):
        return run_launch(*args, env={"KUBECONFIG": str(kube.kubeconfig)}, timeout=120)
    return run


def printed_commands(text: str) -> list[list[str]]:
    """The `launch ...` commands quoted in backticks in a command's output."""
    return [shlex.split(command)[1:] for command in re.findall(r"`(launch [^`]+)`", text)]


def test_a_run_submitted_to_its_configs_namespace_is_found_there_by_the_commands_its_hints_print(launch, namespace):
    submitted = launch("train", "configs/smoke.yaml", "--set", f"namespace={namespace}")
    assert submitted.returncode == 0, submitted.stderr
    follow, status = printed_commands(submitted.stdout)
    run_id = follow[1]
    assert follow == ["logs", run_id, "-f", "-n", namespace] and status == ["status", run_id, "-n", namespace]
    shown = launch(*status)
    assert shown.returncode == 0 and f"{run_id}" in shown.stdout, shown.stderr

    found = launch("status", run_id, "-o", "json")  # no -n: this machine's record knows where it went
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["namespace"] == namespace

    cancelled = launch("cancel", run_id)
    assert cancelled.returncode == 0, cancelled.stderr
    (resume,) = printed_commands(cancelled.stdout)
    assert resume == ["resume", run_id, "-n", namespace]
    resumed = launch(*resume)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"resumed run {run_id} (was Cancelled)")
