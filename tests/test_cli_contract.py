"""One contract for every `launch` command: `-h/--help`, one `-o/--output` whose values are listed in the help
and whose unknown values exit 2, `-n/--namespace` on every command that talks to a cluster, metavars that say
what a value is and flags that take none; JSON and YAML print the same document."""

import json

import pytest
import yaml

from launcher.cli.app import main
from tests.factory import a_run

TEXT = ["text", "json", "yaml"]
TABLE = ["text", "wide", "json", "yaml"]
# words of the command, the arguments it needs, its -o choices (the first is the default), cluster command?
COMMANDS = [
    (["validate"], ["configs/smoke.yaml"], TEXT, False),
    (["schema"], [], ["json", "yaml"], False),
    (["render"], ["configs/smoke.yaml"], ["yaml", "json"], True),
    (["train"], ["configs/smoke.yaml"], TEXT, True),
    (["sweep"], ["configs/sweeps/smoke-lr.yaml"], TEXT, True),
    (["status"], ["run"], TABLE, True),
    (["list"], [], TABLE, True),
    (["logs"], ["run"], ["text", "json"], True),
    (["cancel"], ["run"], TEXT, True),
    (["resume"], ["run"], TEXT, True),
    (["doctor"], ["run"], TEXT, True),
    (["checkpoints"], ["run"], TABLE, False),
    (["data", "reviews"], [], TEXT, False),
    (["data", "minilm"], [], TEXT, False),
]
IDS = [" ".join(words) for words, *_ in COMMANDS]


def launch(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in this process (fast), as `launch ARGS` would run it: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    return exited.value.code, out, err


@pytest.mark.parametrize("words, args, choices, cluster", COMMANDS, ids=IDS)
def test_help_lists_the_output_choices_and_the_namespace_and_shows_no_python_types(capsys, words, args, choices,
                                                                                   cluster):
    code, long_help, _ = launch(capsys, *words, "--help")
    assert (code, launch(capsys, *words, "-h")) == (0, (0, long_help, ""))
    assert f"-o, --output {'|'.join(choices)}" in long_help
    assert f"[default: {choices[0]}]" in long_help
    assert ("-n, --namespace NAME" in long_help) == cluster
    assert "<bool>" not in long_help and "<list[" not in long_help and "<float>" not in long_help


@pytest.mark.parametrize("bad", ["xml", "jsonn", "YAML"])
@pytest.mark.parametrize("words, args, choices, cluster", COMMANDS, ids=IDS)
def test_an_unknown_output_exits_2_naming_the_choices(capsys, words, args, choices, cluster, bad):
    allowed = ", ".join(f"'{c}'" for c in choices)
    assert launch(capsys, *words, *args, "-o", bad) == (
        2, "", f"error: Invalid value for '-o' / '--output': '{bad}' is not one of {allowed}. "
               f"(see `launch {' '.join(words)} --help`)\n")


def test_version_and_completion(capsys):
    assert launch(capsys, "--version") == (0, "launch (kubetrain) 0.1.0\n", "")
    code, out, _ = launch(capsys, "--help")
    assert code == 0 and "--install-completion" in out and "--show-completion" in out


@pytest.mark.parametrize("args", [
    ["validate", "configs/smoke.yaml", "configs/sweeps/smoke-lr.yaml"],
    ["schema", "--sweep"],
    ["render", "configs/smoke.yaml"],
    ["sweep", "configs/sweeps/smoke-lr.yaml", "--dry-run"],
], ids=["validate", "schema", "render", "sweep --dry-run"])
def test_json_and_yaml_print_the_same_document(capsys, args):
    code, as_json, _ = launch(capsys, *args, "-o", "json")
    assert code == 0
    if args[0] == "render":  # YAML is `kubectl apply`'s stream of objects; JSON a List of the same objects
        code, as_yaml, _ = launch(capsys, *args, "-o", "yaml")
        assert json.loads(as_json)["items"] == list(yaml.safe_load_all(as_yaml))
        return
    assert (launch(capsys, *args, "-o", "yaml")[0], json.loads(as_json)) == \
        (0, yaml.safe_load(launch(capsys, *args, "-o", "yaml")[1]))


def test_validate_takes_many_files_and_reports_each(capsys, write_config):
    bad = write_config("name: Bad Name\n")
    code, out, err = launch(capsys, "validate", "configs/smoke.yaml", str(bad), "configs/sweeps/smoke-lr.yaml")
    assert code == 2
    assert out.splitlines()[0].startswith("ok: configs/smoke.yaml -> run smoke-")
    assert out.splitlines()[1] == "ok: configs/sweeps/smoke-lr.yaml -> sweep smoke-lr: 2 trials"
    assert err.startswith(f"error: {bad}:1: name: ")


@pytest.mark.parametrize("args, message", [
    (["--preempt-index", "0"], "error: --preempt-index 0: needs --preempt-after (the drill it aims)\n"),
    (["--kill-index", "1"], "error: --kill-index 1: needs --kill-after (the drill it aims)\n"),
    (["--preempt-after", "-1"], "error: Invalid value for '--preempt-after': Input should be greater than or "
                                "equal to 0 (see `launch train --help`)\n"),
    (["--kill-after", "-0.5"], "error: Invalid value for '--kill-after': Input should be greater than or "
                               "equal to 0 (see `launch train --help`)\n"),
    (["--dry-run", "maybe"], "error: Invalid value for '--dry-run': 'maybe' is not one of 'client', 'server'. "
                             "(see `launch train --help`)\n"),
])
def test_drill_options_that_aim_at_nothing_or_go_back_in_time_are_refused(capsys, args, message):
    assert launch(capsys, "train", "configs/smoke.yaml", "--local", *args) == (2, "", message)


RUN = "smoke-1a2b3c4d"
# every command that needs no cluster, as it would be run on this machine ({tmp}: a folder of the test's)
LOCAL = [
    (["validate", "configs/smoke.yaml"], TEXT),
    (["schema"], ["json", "yaml"]),
    (["render", "configs/smoke.yaml"], ["yaml", "json"]),
    (["sweep", "configs/sweeps/smoke-lr.yaml", "--dry-run"], TEXT),
    (["list", "--local"], TABLE),
    (["status", RUN, "--local"], TABLE),
    (["logs", RUN, "--local"], ["text", "json"]),
    (["checkpoints", RUN, "--root", "{tmp}/checkpoints"], TABLE),
    (["data", "reviews", "--out", "{tmp}/reviews"], TEXT),
    (["data", "minilm", "--out", "{tmp}/minilm"], TEXT),
]


def parsed(command: str, out: str, output: str):
    """The documents `out` holds: JSON (JSON Lines for logs), or YAML; for text and wide, the lines."""
    if output == "json":
        return [json.loads(line) for line in out.splitlines()] if command == "logs" else [json.loads(out)]
    return yaml.safe_load_all(out) if output == "yaml" else out.splitlines()


@pytest.mark.parametrize("args, choices", LOCAL, ids=[" ".join(args[:2]) for args, _ in LOCAL])
def test_every_output_of_every_command_that_runs_here(capsys, monkeypatch, tmp_path, args, choices):
    monkeypatch.setenv("KUBETRAIN_RUNS_ROOT", str(tmp_path / "runs"))
    a_run(tmp_path / "runs", RUN, days_ago=1)
    (tmp_path / "checkpoints" / RUN / "checkpoints").mkdir(parents=True)
    for output in choices:
        code, out, err = launch(capsys, *(a.format(tmp=tmp_path) for a in args), "-o", output)
        assert code == (1 if args[0] == "checkpoints" else 0), (output, err)  # no checkpoint: exit 1
        assert out and list(parsed(args[0], out, output)), output
