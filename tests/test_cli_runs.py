"""`launch list|status|logs --local`: kubectl-like plain tables that survive a pipe at 80 columns (run ids
whole, newest last), one runs root whatever the working folder, and an empty list that says where it looked.
The run id and the namespace: where a run goes is not what it is."""

import json
from pathlib import Path

import pytest
import yaml

from launcher.cluster.commands import Target
from launcher.cluster.records import ClusterRecord
from launcher.errors import ConfigError
from launcher.local.state import default_runs_root
from tests.factory import a_run, run_launch

SWEEP_RUN = "bert-reviews-lr-sweep-3f2a1b4c"
OTHER_RUN = "bert-reviews-lr-sweep-9e8d7c6b"


def local(*args: str, root: Path, cwd: Path | None = None):
    """`launch ARGS --local` with the runs root moved by $KUBETRAIN_RUNS_ROOT, output piped, 80 columns."""
    return run_launch(*args, "--local", env={"KUBETRAIN_RUNS_ROOT": str(root), "COLUMNS": "80"},
                      cwd=cwd or Path.cwd())


def test_list_piped_at_80_columns_keeps_full_run_ids_newest_last(tmp_path):
    a_run(tmp_path, SWEEP_RUN, days_ago=2)  # sorts first by name, but is the newer
    a_run(tmp_path, OTHER_RUN, days_ago=5, status="Running")
    result = local("list", root=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, (
        "NAME                             STATUS      ATTEMPTS   PREEMPTIONS   FAILURES   STEP   AGE\n"
        "bert-reviews-lr-sweep-9e8d7c6b   Running     2          1             0          -      5d\n"
        "bert-reviews-lr-sweep-3f2a1b4c   Succeeded   2          1             0          -      2d\n"), "")
    assert "─" not in result.stdout and "│" not in result.stdout


def test_list_wide_adds_where_hash_and_metrics(tmp_path):
    a_run(tmp_path, SWEEP_RUN, days_ago=1)
    assert local("list", "-o", "wide", root=tmp_path).stdout == (
        "NAME                             STATUS      ATTEMPTS   PREEMPTIONS   FAILURES   STEP   WHERE   "
        "CONFIG-HASH   METRICS             AGE\n"
        "bert-reviews-lr-sweep-3f2a1b4c   Succeeded   2          1             0          -      local   "
        "3f2a1b4c      test_accuracy=0.9   1d\n")


def test_the_runs_root_does_not_depend_on_the_working_folder(tmp_path):
    a_run(tmp_path / "state", SWEEP_RUN, days_ago=1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    here, there = local("list", "-o", "json", root=tmp_path / "state"), \
        local("list", "-o", "json", root=tmp_path / "state", cwd=elsewhere)
    assert [r["run_id"] for r in json.loads(here.stdout)] == [SWEEP_RUN]
    assert here.stdout == there.stdout


def test_the_default_runs_root_is_the_xdg_state_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBETRAIN_RUNS_ROOT", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_runs_root() == tmp_path / "xdg" / "kubetrain" / "runs"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_runs_root() == tmp_path / "home" / ".local" / "state" / "kubetrain" / "runs"
    monkeypatch.setenv("KUBETRAIN_RUNS_ROOT", "/srv/runs")
    assert default_runs_root() == Path("/srv/runs")


def test_an_empty_list_says_where_it_looked(tmp_path):
    result = local("list", root=tmp_path / "none")
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "", f"No local runs found in {tmp_path}/none (--runs-root or $KUBETRAIN_RUNS_ROOT moves it).\n")
    assert local("list", "-o", "json", root=tmp_path / "none").stdout == "[]\n"


def test_status_text_has_a_summary_an_index_table_and_the_attempts_and_wide_adds_pods(tmp_path):
    a_run(tmp_path, SWEEP_RUN, days_ago=1)
    text = local("status", SWEEP_RUN, root=tmp_path).stdout
    assert text.splitlines()[:4] == [f"Name:            {SWEEP_RUN}", "Where:           local",
                                     "Status:          Succeeded", "Age:             1d"]
    assert text.endswith(
        "\n\nINDEX   POD   NODE   STATE       ATTEMPTS   PREEMPTIONS   FAILURES\n"
        "0       -     -      Succeeded   2          1             0\n"
        "\nINDEX   ATTEMPT   STARTED   ENDED   EXIT   DRILL     FROM-STEP   TO-STEP   OUTCOME\n"
        "0       1         -         -       75     preempt   -           -         preempted: preempt drill\n"
        "0       2         -         -       0      -         -           -         Succeeded\n")
    wide = local("status", SWEEP_RUN, "-o", "wide", root=tmp_path).stdout
    assert wide.endswith(
        "\nINDEX   ATTEMPT   POD   NODE   STARTED   ENDED   EXIT   DRILL     FROM-STEP   TO-STEP   OUTCOME\n"
        "0       1         -     -      -         -       75     preempt   -           -         "
        "preempted: preempt drill\n"
        "0       2         -     -      -         -       0      -         -           -         Succeeded\n")


def test_logs_json_is_one_object_a_line(tmp_path):
    a_run(tmp_path, SWEEP_RUN, days_ago=1)
    result = local("logs", SWEEP_RUN, "-o", "json", root=tmp_path)
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        {"index": 0, "line": "step 1"}, {"index": 0, "line": "step 2"}, {"index": 0, "line": "finished"}]


def test_the_namespace_is_where_a_run_goes_not_what_it_is():
    plain = run_launch("validate", "configs/smoke.yaml", "-o", "json")
    moved = run_launch("validate", "configs/smoke.yaml", "--set", "namespace=team-a", "-o", "json")
    assert json.loads(plain.stdout)[0]["run_id"] == json.loads(moved.stdout)[0]["run_id"]
    unset = list(yaml.safe_load_all(run_launch("render", "configs/smoke.yaml").stdout))
    team = list(yaml.safe_load_all(run_launch("render", "configs/smoke.yaml", "-n", "team-a").stdout))
    assert [o["metadata"].get("namespace") for o in unset] == [None, None, None]
    assert [o["metadata"]["namespace"] for o in team] == ["team-a"] * 3
    assert [o["metadata"]["name"] for o in unset] == [o["metadata"]["name"] for o in team]


def test_the_namespace_comes_from_n_then_the_config_then_the_context(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u", "namespace": "from-context"}}]}))
    assert Target("from-n", kubeconfig=kubeconfig).namespace_for("from-config") == "from-n"
    assert Target(kubeconfig=kubeconfig).namespace_for("from-config") == "from-config"
    assert Target(kubeconfig=kubeconfig).namespace_for(None) == "from-context"
    assert Target(kubeconfig=tmp_path / "absent").namespace_for(None) == "default"


def test_a_cluster_record_that_is_not_json_is_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "cluster.json").write_text('{"run_id": "run"')
    with pytest.raises(ConfigError) as refused:
        ClusterRecord.load(tmp_path, "run")
    assert str(refused.value) == (f"{tmp_path}/run/cluster.json: unreadable (Expecting ',' delimiter: line 1 "
                                  "column 17 (char 16)); fix or remove it")


def test_sweep_tables_have_a_column_per_value_that_varies():
    from launcher.cli.sweep import show_ranked

    dry = run_launch("sweep", "configs/sweeps/smoke-lr.yaml", "--dry-run")
    assert dry.stdout == ("NAME                STATE     CREATED   TRAIN.LR\n"
                          "smoke-lr-c0e0e631   planned             0.003\n"
                          "smoke-lr-fe3d1fad   planned             0.001\n"
                          "sweep smoke-lr: 2 trials, 2 planned\n")
    lines = []
    show_ranked({"sweep": "s", "state": "Running", "metric": {"name": "test_accuracy", "goal": "max"}, "trials": [
        {"run_id": "s-1", "state": "Succeeded", "attempts": 2, "preemptions": 1, "metric": 0.91,
         "values": {"train.lr": 1e-5}},
        {"run_id": "s-2", "state": "Running", "attempts": 1, "preemptions": 0, "metric": None,
         "values": {"train.lr": 3e-5}}]}, "text", lines.append)
    assert "\n".join(lines) == ("NAME   STATE       ATTEMPTS   PREEMPTIONS   TEST_ACCURACY   TRAIN.LR\n"
                                "s-1    Succeeded   2          1             0.91            1e-05\n"
                                "s-2    Running     1          0             -               3e-05\n"
                                "sweep s: Running")


STATUS_KEYS = ["run_id", "status", "where", "namespace", "reason", "attempts", "preemptions", "failures",
               "committed_step", "metrics", "final_dir", "logs_dir", "created", "config_hash", "indexes", "history",
               "notes"]
INDEX_KEYS = ["index", "pod", "node", "state", "attempts", "preemptions", "failures"]
ATTEMPT_KEYS = ["index", "attempt", "state", "pod", "node", "exit_code", "preempted", "ended", "committed_step",
                "created", "finished", "resumed_from", "stopped_at", "drill", "gone"]


def test_the_json_of_status_and_list_has_the_shape_the_readme_documents(tmp_path):
    a_run(tmp_path, SWEEP_RUN, days_ago=1)
    status = json.loads(local("status", SWEEP_RUN, "-o", "json", root=tmp_path).stdout)
    (listed,) = json.loads(local("list", "-o", "json", root=tmp_path).stdout)
    assert listed == status
    assert (list(status), list(status["indexes"][0]), list(status["history"][0])) == \
        (STATUS_KEYS, INDEX_KEYS, ATTEMPT_KEYS)
    assert json.loads(run_launch("validate", "configs/smoke.yaml", "-o", "json").stdout)[0].keys() == \
        {"file", "run_id", "sweep", "trials", "warnings", "error"}
