"""What `launch` does with this machine's runs (`--local`): where they live, reading their state, the drill
options and the train summary. launcher/cli/app.py parses the options and calls these."""

import sys
from pathlib import Path

from ..errors import ConfigError
from ..output import document


def runs_dir(runs_root: Path | None) -> Path:
    """--runs-root (or $KUBETRAIN_RUNS_ROOT), else the default that does not depend on the working folder."""
    from ..local.state import default_runs_root

    return runs_root or default_runs_root()


def needs(option: str, value, other: str, others) -> None:
    """Refuse a drill's index (`option` `value`) given without the drill (`other`)."""
    if value is not None and not others:
        raise ConfigError(f"{option} {value}: needs {other} (the drill it aims)")


def local_checkpoint_root(runs_root: Path, run_id: str) -> str:
    """Where a local run's checkpoints are: its config's s3 uri, else its checkpoint mount."""
    config = runs_root / run_id / "config.yaml"
    if not config.is_file():
        raise ConfigError(f"no local run {run_id!r} under {runs_root}/: pass --root DIR or s3://bucket/prefix")
    import yaml

    try:
        checkpoints = yaml.safe_load(config.read_text())["storage"]["checkpoints"]
        return checkpoints["uri"] or checkpoints["mount"]
    except (yaml.YAMLError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{config}: no storage.checkpoints in it ({type(exc).__name__}: {exc}); pass --root "
                          "DIR or s3://bucket/prefix") from None


def local_state(runs_root: Path, run_id: str):
    """The run's RunState; ConfigError when there is no such run."""
    from ..local.state import RunState

    state = readable(runs_root / run_id, lambda: RunState.load(runs_root / run_id))
    if state is None:
        raise ConfigError(f"no local run {run_id!r} under {runs_root}/ (see `launch list --local`)")
    return state


def readable(where: Path, read):
    """`read()`, with a run.json that is not the runner's (cut short, edited by hand) as one line."""
    try:
        return read()
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: a run.json there is unreadable ({exc}); fix or remove its run folder") from None


def claims(items: list[str]) -> dict[str, Path]:
    """--volume CLAIM=PATH items as {claim: folder}."""
    pairs = [item.partition("=") for item in items]
    if bad := [item for item, (_, sep, path) in zip(items, pairs) if not sep or not path]:
        raise ConfigError(f"--volume {bad[0]!r}: expected CLAIM=PATH")
    return {claim: Path(path) for claim, _, path in pairs}


def check_index(option: str, index: int | None, nodes: int) -> None:
    """Refuse a drill index the run does not have."""
    if index is not None and not 0 <= index < nodes:
        raise ConfigError(f"{option} {index}: allowed 0 to {nodes - 1}")


def print_summary(summary: dict, output: str, echo) -> None:
    """The train summary (RunStatus.to_json, documented in README.md): JSON or YAML on stdout, or lines."""
    from ..status.table import artifact_lines, tensorboard_program

    if output != "text":
        from ..local.echo import Echo

        Echo(sys.stdout).line(document(summary, output))
        return
    lines = [f"run {summary['run_id']}: {summary['status']} after {summary['attempts']} attempt(s), "
             f"{summary['preemptions']} preemption(s), {summary['failures']} crash(es)"]
    if summary["metrics"]:
        lines.append("metrics: " + ", ".join(f"{k}={v}" for k, v in summary["metrics"].items()))
    if "test_accuracy" in summary["metrics"]:
        lines.append(f"test accuracy: {summary['metrics']['test_accuracy']:.3f}")
    if summary["reason"]:
        lines.append(f"reason: {summary['reason']}")
    lines += artifact_lines(summary["final_dir"], summary["logs_dir"], tensorboard_program())
    echo.line("\n".join(lines))
