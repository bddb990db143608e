"""`launch sweep SWEEP --local`: the demo sweep's trials run one after another with the local runner on the
reviews data, ranked by test loss (lowest first), which tells them apart; a second call runs nothing again."""

import json
import subprocess

from tests.factory import run_launch

SWEEP = "configs/sweeps/smoke-lr.yaml"


def sweep_local(tmp_path, volumes) -> subprocess.CompletedProcess:
    return run_launch("sweep", SWEEP, "--local", "-o", "json", "--runs-root", str(tmp_path / "runs"),
                      "--volumes-root", str(volumes), timeout=600)


def test_the_demo_sweep_runs_each_trial_here_once_best_first(tmp_path, smoke_volumes):
    first = sweep_local(tmp_path, smoke_volumes)
    assert first.returncode == 0, first.stderr[-2000:]
    doc = json.loads(first.stdout.splitlines()[-1])
    assert (doc["sweep"], doc["state"], doc["metric"]) == ("smoke-lr", "Succeeded",
                                                           {"name": "test_loss", "goal": "min"})
    assert sorted(t["values"]["train.lr"] for t in doc["trials"]) == [1.0e-3, 3.0e-3]
    assert {(t["state"], t["attempts"], t["preemptions"]) for t in doc["trials"]} == {("Succeeded", 1, 0)}
    scores = [t["metric"] for t in doc["trials"]]
    assert all(isinstance(s, float) for s in scores) and scores == sorted(scores) and len(set(scores)) == 2

    again = sweep_local(tmp_path, smoke_volumes)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("already succeeded: nothing to do") + again.stderr.count(
        "already succeeded: nothing to do") == 2
    assert json.loads(again.stdout.splitlines()[-1]) == doc
