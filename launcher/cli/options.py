"""The options `launch` commands share, spelled once so every command offers them alike: one `-o/--output`
(a choice: an unknown value exits 2 and lists the allowed ones), metavars that say what a value is, flags
without one, and defaults in the help's [default: ...] rather than in prose."""

from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import typer

from ..local.state import RUNS_ROOT_ENV

FLAG = ""  # the metavar of an option that takes no value: Typer would show <bool>


def _argument_metavar_only() -> None:
    """Typer 0.29 prints an argument's Python type after its metavar ("CONFIG... <list[Path]>", "RUN <str>");
    show the metavar alone, as Click does. Options need no patch: their metavar replaces the type.
    Upstream: https://github.com/fastapi/typer/issues/1156 (changed by fastapi/typer#1410)."""
    from typer.core import TyperArgument

    shown = TyperArgument.display_type_rich
    TyperArgument.display_type_rich = lambda self, ctx: None if self.metavar else shown(self, ctx)


_argument_metavar_only()


def output_option(*choices: str, help: str = "") -> Any:
    """The `-o/--output` option: one of `choices`, the first by default."""
    text = "Output format." + (f" {help}" if help else "")
    return Annotated[Literal[choices], typer.Option("-o", "--output", metavar="|".join(choices), help=text)]


def flag(*names: str, help: str) -> Any:
    """A boolean option that takes no value (`--local`, `--wait`, ...), off by default."""
    return Annotated[bool, typer.Option(*names, help=help, metavar=FLAG, show_default=False)]


ConfigArg = Annotated[Path, typer.Argument(help="Experiment YAML file.", metavar="CONFIG", show_default=False)]
RunArg = Annotated[str, typer.Argument(help="Run id.", metavar="RUN", show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option(
    "--set", metavar="PATH=VALUE", help="Override a field, e.g. train.lr=3e-5 (repeatable).")]
RunIdOpt = Annotated[Optional[str], typer.Option(
    "--run-id", metavar="RUN", help="Run id instead of <name>-<hash of the config>.", show_default=False)]
NamespaceOpt = Annotated[Optional[str], typer.Option(
    "--namespace", "-n", metavar="NAME", show_default="the kubeconfig context's, else default",
    help="Namespace to act in.")]
ConfigNamespaceOpt = Annotated[Optional[str], typer.Option(
    "--namespace", "-n", metavar="NAME", show_default="the config's, else the kubeconfig context's, else default",
    help="Namespace the run goes to; not part of the run id.")]
ContextOpt = Annotated[Optional[str], typer.Option(metavar="NAME", show_default="the current context",
                                                   help="kubeconfig context.")]
KubeconfigOpt = Annotated[Optional[Path], typer.Option(
    metavar="PATH", show_default="$KUBECONFIG, ~/.kube/config, or in-cluster", help="kubeconfig file.")]
RunsRootOpt = Annotated[Optional[Path], typer.Option(
    metavar="DIR", envvar=RUNS_ROOT_ENV, show_default="$XDG_STATE_HOME/kubetrain/runs, else "
    "~/.local/state/kubetrain/runs", help="Folder of local runs' state and logs, and of cluster runs' records.")]
LocalOpt = flag("--local", help="A run of this machine (launch train --local).")
TextOut = output_option("text", "json", "yaml")
TableOut = output_option("text", "wide", "json", "yaml", help="wide: more columns.")


def version_callback(value: bool) -> None:
    """--version: the installed distribution's version, then exit 0."""
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"launch (kubetrain) {version('kubetrain')}")
        except PackageNotFoundError:
            typer.echo("launch (kubetrain) unknown version: not installed")
        raise typer.Exit(0)
