"""Sweep files: every mistake is one line naming the file, the line, the YAML path and what is allowed;
`launch validate` and `launch schema --sweep` cover them; the example sweep keeps its trial ids."""

import json
import shutil
from pathlib import Path

import pytest

from launcher.errors import ConfigError
from launcher.sweeps.expand import expand
from launcher.sweeps.loading import load_sweep
from tests.factory import ROOT, run_launch

HEAD = "kind: Sweep\nname: lr\nbase:\n  config: base.yaml\n"
RANDOM = HEAD + "random:\n  n: 2\n  params:\n    train.lr: {kind: %s, low: %s, high: 0.1}\nmax_parallel: 1\n"

CASES = {
    "unknown path": (HEAD + "grid:\n  train.learning_rate: [0.1]\nmax_parallel: 1\n",
                     "s.yaml:6: grid.train.learning_rate: unknown path (no train.learning_rate); allowed under "
                     "train: epochs, max_steps, batch_size, grad_accumulation, lr, weight_decay, warmup_ratio, "
                     "precision, strategy, seed, log_every_n_steps"),
    "path into a value": (HEAD + "grid:\n  train.lr.x: [0.1]\nmax_parallel: 1\n",
                          "s.yaml:6: grid.train.lr.x: train.lr has no fields"),
    "empty grid": (HEAD + "grid:\n  train.lr: []\nmax_parallel: 1\n",
                   "s.yaml:6: grid.train.lr: List should have at least 1 item after validation, not 0 (got [])"),
    "n zero": (HEAD + "random:\n  n: 0\n  params:\n    train.lr: {kind: uniform, low: 0.1, high: 0.2}\n"
                      "max_parallel: 1\n",
               "s.yaml:6: random.n: Input should be greater than 0 (got 0)"),
    "loguniform from 0": (RANDOM % ("loguniform", 0),
                          "s.yaml:8: random.params.train.lr: loguniform needs low > 0 (got 0)"),
    "low above high": (RANDOM % ("uniform", 0.5), "s.yaml:8: random.params.train.lr: low 0.5 is above high 0.1"),
    "unknown distribution": (RANDOM % ("normal", 0.01),
                             "s.yaml:8: random.params.train.lr.kind: Input should be 'choice', 'uniform', "
                             "'loguniform' or 'int' (got 'normal')"),
    "unknown key of a param": (HEAD + "random:\n  n: 1\n  params:\n    train.lr: {kind: uniform, low: 0.1, "
                                      "high: 0.2, step: 1}\nmax_parallel: 1\n",
                               "s.yaml:8: random.params.train.lr.step: unknown key; allowed: kind, values, low, high"),
    "max_parallel 0": (HEAD + "grid:\n  train.lr: [0.1]\nmax_parallel: 0\n",
                       "s.yaml:7: max_parallel: Input should be greater than 0 (got 0)"),
    "grid value of the wrong type": (HEAD + "grid:\n  train.lr: [0.1, fast]\nmax_parallel: 1\n",
                                     "s.yaml:6: grid.train.lr: Input should be a valid number, unable to parse "
                                     "string as a number (got 'fast')"),
    "override of the wrong type": (HEAD + "  overrides:\n    train.epochs: many\ngrid:\n  train.lr: [0.1]\n"
                                          "max_parallel: 1\n",
                                   "s.yaml:6: base.overrides.train.epochs: Input should be a valid integer, "
                                   "unable to parse string as an integer (got 'many')"),
    "unknown top-level key": (HEAD + "grid:\n  train.lr: [0.1]\nmax_parallel: 1\nparallelism: 3\n",
                              "s.yaml:8: parallelism: unknown key; allowed: kind, name, base, grid, random, "
                              "max_parallel, metric"),
    "nothing searched": (HEAD + "max_parallel: 1\n", "s.yaml: grid: a sweep needs a grid, a random search or both"),
    "missing base config": (HEAD.replace("base.yaml", "gone.yaml") + "grid:\n  train.lr: [0.1]\nmax_parallel: 1\n",
                            "s.yaml:4: base.config: cannot read gone.yaml: No such file or directory"),
}


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A folder holding base.yaml (configs/bert.yaml), the current directory so errors name s.yaml."""
    shutil.copy(ROOT / "configs/bert.yaml", tmp_path / "base.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("text, line", CASES.values(), ids=CASES.keys())
def test_a_bad_sweep_file_is_one_line_naming_file_line_and_key(folder, text, line):
    Path("s.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        expand(load_sweep(Path("s.yaml")))
    assert str(caught.value) == line


def test_launch_validate_exits_2_with_the_line(folder):
    (folder / "s.yaml").write_text(CASES["max_parallel 0"][0])
    result = run_launch("validate", str(folder / "s.yaml"))
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == \
        (2, f"error: {folder}/s.yaml:7: max_parallel: Input should be greater than 0 (got 0)")


def test_a_map_key_with_dots_is_one_key(folder):
    Path("s.yaml").write_text(HEAD + "grid:\n  scheduling.node_selector.example.com/pool: [a, b]\nmax_parallel: 1\n")
    trials = expand(load_sweep(Path("s.yaml")))
    pools = sorted((t.values["scheduling.node_selector.example.com/pool"],
                    t.experiment.scheduling.node_selector["example.com/pool"]) for t in trials)
    assert pools == [("a", "a"), ("b", "b")]


def test_the_example_sweep_validates_and_keeps_its_trial_ids():
    result = run_launch("validate", "configs/sweeps/bert-lr.yaml")
    assert (result.returncode, result.stdout) == \
        (0, "ok: configs/sweeps/bert-lr.yaml -> sweep bert-lr: 4 trials\n")
    trials = expand(load_sweep(ROOT / "configs/sweeps/bert-lr.yaml"))
    assert [(t.run_id, t.values) for t in trials] == [
        ("bert-lr-80688b65", {"train.lr": 1e-05, "train.weight_decay": 0.0150849}),
        ("bert-lr-a2b23e7c", {"train.lr": 3e-05, "train.weight_decay": 0.0323833}),
        ("bert-lr-bf5b8cc0", {"train.lr": 3e-05, "train.weight_decay": 0.0150849}),
        ("bert-lr-e3ca9496", {"train.lr": 1e-05, "train.weight_decay": 0.0323833}),
    ]
    assert {(t.experiment.sweep, t.experiment.train.epochs) for t in trials} == {("bert-lr", 2)}


def test_launch_schema_sweep_documents_every_field():
    result = run_launch("schema", "--sweep")
    schema = json.loads(result.stdout)
    assert (schema["title"], schema["additionalProperties"]) == ("Sweep", False)
    undocumented = [f"{model}.{name}" for model, body in {"Sweep": schema, **schema["$defs"]}.items()
                    for name, prop in body["properties"].items() if not prop.get("description")]
    assert undocumented == []


def test_validate_refuses_set_on_a_sweep_file():
    result = run_launch("validate", "configs/sweeps/bert-lr.yaml", "--set", "train.lr=1")
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
        2, "error: configs/sweeps/bert-lr.yaml: a sweep file takes no --set or --run-id (set base.overrides instead)")
