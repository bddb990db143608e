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


def main() -> None:
    """Entry point: bad input is one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
