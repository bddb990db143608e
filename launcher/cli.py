"""The `launch` command line. Heavy modules are imported inside commands so `launch --help` stays fast."""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .loading import ConfigError, load_run

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Turn experiment configs into Kubernetes Jobs, run them on a cluster or here.")

ConfigArg = Annotated[Path, typer.Argument(help="Experiment YAML file.", show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: a.b=value (repeatable).")]
RunIdOpt = Annotated[Optional[str], typer.Option("--run-id", help="Run id; default <name>-<config hash>.")]
OutputOpt = Annotated[str, typer.Option("-o", "--output", help="yaml or json.")]


def _warn(messages: list[str]) -> None:
    for message in messages:
        typer.echo(f"warning: {message}", err=True)


@app.command()
def validate(config: ConfigArg, set_: SetOpt = None, run_id: RunIdOpt = None) -> None:
    """Check a config and print its run id."""
    from .render import warnings

    run = load_run(config, set_ or [], run_id)
    _warn(warnings(run.experiment))
    typer.echo(f"ok: {config} -> run {run.run_id}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of experiment configs (for editor completion)."""
    from .schema import Experiment

    typer.echo(json.dumps(Experiment.model_json_schema(), indent=2))


@app.command()
def render(config: ConfigArg, set_: SetOpt = None, run_id: RunIdOpt = None, output: OutputOpt = "yaml") -> None:
    """Print the run's Kubernetes objects; pipe to `kubectl apply -f -`."""
    from .render import render as render_objects
    from .render import to_yaml, warnings

    if output not in ("yaml", "json"):
        raise ConfigError(f"-o {output}: allowed: yaml, json")
    run = load_run(config, set_ or [], run_id)
    _warn(warnings(run.experiment))
    objects = render_objects(run.experiment, run.run_id)
    typer.echo(to_yaml(objects) if output == "yaml" else json.dumps({"apiVersion": "v1", "kind": "List",
                                                                     "items": objects}, indent=2))


@app.command()
def train(
    config: ConfigArg,
    set_: SetOpt = None,
    run_id: RunIdOpt = None,
    local: Annotated[bool, typer.Option("--local", help="Run the Job on this machine, one process per index.")] = False,
    volume: Annotated[Optional[list[str]], typer.Option(help="Map a claim to a folder: CLAIM=PATH.")] = None,
    volumes_root: Annotated[Path, typer.Option(help="Folder holding one folder per claim.")] = Path("volumes"),
    runs_root: Annotated[Path, typer.Option(help="Folder holding local run state and logs.")] = Path("runs"),
    preempt_after: Annotated[Optional[list[float]], typer.Option(
        help="Preemption drill: SIGTERM one index this many seconds into the next attempt (repeatable).")] = None,
    preempt_index: Annotated[Optional[int], typer.Option(help="Index the drills hit (default: random).")] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="text, or json: the summary as JSON.")] = "text",
) -> None:
    """Train an experiment: on this machine with --local."""
    from .local.runner import LocalOptions, train_local
    from .local.supervisor import Cancelled, Drill

    if not local:
        raise ConfigError("cluster submission is not available yet: use --local, or "
                          "`launch render CONFIG | kubectl apply -f -`")
    run = load_run(config, set_ or [], run_id)
    _check_index(preempt_index, run.experiment.resources.nodes)
    options = LocalOptions(runs_root=runs_root, volumes_root=volumes_root, volumes=_claims(volume or []),
                           drills=tuple(Drill(after, preempt_index) for after in preempt_after or []))
    echo = sys.stderr if output == "json" else sys.stdout
    try:
        state = train_local(run, options, echo=echo)
    except Cancelled:
        raise typer.Exit(130) from None
    _print_summary(state.summary(), output, echo)
    raise typer.Exit(0 if state.status == "Succeeded" else 1)


def _claims(items: list[str]) -> dict[str, Path]:
    pairs = [item.partition("=") for item in items]
    if bad := [item for item, (_, sep, path) in zip(items, pairs) if not sep or not path]:
        raise ConfigError(f"--volume {bad[0]!r}: expected CLAIM=PATH")
    return {claim: Path(path) for claim, _, path in pairs}


def _check_index(index: int | None, nodes: int) -> None:
    if index is not None and not 0 <= index < nodes:
        raise ConfigError(f"--preempt-index {index}: allowed 0 to {nodes - 1}")


def _print_summary(summary: dict, output: str, echo) -> None:
    if output == "json":
        typer.echo(json.dumps(summary))
        return
    lines = [f"run {summary['run_id']}: {summary['status']} after {summary['attempts']} attempt(s), "
             f"{summary['preemptions']} preemption(s), {summary['failures']} crash(es)"]
    if summary["metrics"]:
        lines.append("metrics: " + ", ".join(f"{k}={v}" for k, v in summary["metrics"].items()))
    if summary["final_dir"]:
        lines.append(f"final model: {summary['final_dir']}")
    if summary["reason"]:
        lines.append(f"reason: {summary['reason']}")
    typer.echo("\n".join(lines), file=echo)


def main() -> None:
    """Entry point: bad input is one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
