"""Every command with bad arguments, unreadable files, missing credentials and unreachable endpoints, run as a
real process: one line on stderr that names the cause, exit code 2, never a traceback."""

import pytest

from tests.factory import run_launch

NO_KUBECONFIG = {"KUBECONFIG": "/nonexistent/kubeconfig"}
UNREACHABLE = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""


@pytest.fixture
def files(tmp_path):
    """Inputs a user passes by mistake: a binary file, a Latin-1 config, YAML that is not a mapping, a broken
    run.json, a kubeconfig that is not YAML and one whose server is down."""
    (tmp_path / "binary").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "runs" / "broken").mkdir(parents=True)
    (tmp_path / "runs" / "broken" / "run.json").write_text('{"run_id": ')
    (tmp_path / "kubeconfig.txt").write_text("clusters: [\n")
    (tmp_path / "down.kubeconfig").write_text(UNREACHABLE)
    return tmp_path


CASES = [
    (["validate", "configs/nope.yaml"], "error: configs/nope.yaml: cannot read: No such file or directory"),
    (["validate", "configs"], "error: configs: cannot read: Is a directory"),
    (["validate", "{tmp}/binary"],
     "error: {tmp}/binary: not UTF-8 text (byte 128): pass a YAML config, saved as UTF-8"),
    (["render", "{tmp}/latin1.yaml"],
     "error: {tmp}/latin1.yaml: not UTF-8 text (byte 9): pass a YAML config, saved as UTF-8"),
    (["train", "{tmp}/list.yaml", "--local"],
     "error: {tmp}/list.yaml: expected a mapping of config sections, got list"),
    (["sweep", "{tmp}/binary", "--dry-run"],
     "error: {tmp}/binary: not UTF-8 text (byte 128): pass a YAML config, saved as UTF-8"),
    (["validate", "configs/smoke.yaml", "--set", "train.lr=fast"],
     "error: --set 'train.lr=fast': train.lr: Input should be a valid number, unable to parse string as a number "
     "(got 'fast')"),
    (["render", "configs/smoke.yaml", "--set", "train.lr"],
     "error: --set 'train.lr': expected PATH=VALUE, e.g. train.lr=3e-5"),
    (["render", "configs/smoke.yaml", "--set", "train.seed=[1"],
     "error: --set 'train.seed=[1': the value is not valid YAML (expected ',' or ']', but got '<stream end>'); "
     "quote it"),
    (["render", "configs/smoke.yaml", "-n", "Team_A"],
     "error: -n 'Team_A': namespace: 'Team_A' is not valid here (lowercase letters, digits and '-', starting and "
     "ending with a letter or digit)"),
    (["validate", "configs/smoke.yaml", "--run-id", "Bad_ID"],
     "error: --run-id 'Bad_ID': run id 'Bad_ID' must be lowercase letters, digits and '-'"),
    (["render", "configs/smoke.yaml", "--bogus"], "error: No such option: --bogus (see `launch render --help`)"),
    (["render"], "error: Missing argument 'CONFIG'. (see `launch render --help`)"),
    (["logs", "run", "--index", "-1"],
     "error: Invalid value for '--index': Input should be greater than or equal to 0 (see `launch logs --help`)"),
    (["status", "nope", "--local", "--runs-root", "{tmp}/runs"],
     "error: no local run 'nope' under {tmp}/runs/ (see `launch list --local`)"),
    (["logs", "nope", "--local", "--runs-root", "{tmp}/runs"],
     "error: no local run 'nope' under {tmp}/runs/ (see `launch list --local`)"),
    (["list", "--local", "--runs-root", "{tmp}/runs"],
     "error: {tmp}/runs: a run.json there is unreadable (Expecting value: line 1 column 12 (char 11)); fix or "
     "remove its run folder"),
    (["checkpoints", "nope", "--runs-root", "{tmp}/runs"],
     "error: no local run 'nope' under {tmp}/runs/: pass --root DIR or s3://bucket/prefix"),
    (["status", "run", "--kubeconfig", "{tmp}/kubeconfig.txt"],
     "error: kubeconfig {tmp}/kubeconfig.txt: not a kubeconfig (YAML) file: while parsing a flow node; pass "
     "another with --kubeconfig"),
    (["list", "--kubeconfig", "{tmp}/binary"],
     "error: kubeconfig {tmp}/binary: not a kubeconfig (YAML) file: 'utf-8' codec can't decode byte 0x80 in "
     "position 128: invalid start byte; pass another with --kubeconfig"),
    (["doctor", "run", "--kubeconfig", "{tmp}/none"], "error: --kubeconfig {tmp}/none: no such file"),
    (["cancel", "run"], "error: no kubeconfig (/nonexistent/kubeconfig does not exist) and not in a pod: pass "
                        "--kubeconfig or set KUBECONFIG, or use --local to run here"),
    (["resume", "run"], "error: no kubeconfig (/nonexistent/kubeconfig does not exist) and not in a pod: pass "
                        "--kubeconfig or set KUBECONFIG, or use --local to run here"),
    (["status", "run", "--kubeconfig", "{tmp}/down.kubeconfig", "--context", "nope"],
     "error: context 'nope' does not exist in {tmp}/down.kubeconfig (contexts: c); pass one of them to --context"),
    (["sweep", "status", "configs/sweeps/smoke-lr.yaml", "--kubeconfig", "{tmp}/down.kubeconfig"],
     "error: get configmaps/smoke-lr-slots: no answer from the API server https://127.0.0.1:9 after 6 tries "
     "(MaxRetryError): check that the cluster is up and the kubeconfig's context (--context, --kubeconfig)"),
]


@pytest.mark.parametrize("args, line", CASES, ids=[" ".join(args)[:60] for args, _ in CASES])
def test_a_mistake_is_one_line_and_exit_2_never_a_traceback(files, args, line):
    result = run_launch(*(a.format(tmp=files) for a in args), env=NO_KUBECONFIG, timeout=120)
    assert "Traceback" not in result.stdout + result.stderr
    assert (result.returncode, result.stderr) == (2, line.format(tmp=files) + "\n")
