"""The `launch` command line. Heavy modules are imported inside commands so `launch --help` stays fast."""

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from .options import (FLAG, RUNS_ROOT_ENV, ConfigArg, ConfigNamespaceOpt, ContextOpt, KubeconfigOpt, LocalOpt,
                      NamespaceOpt, RunArg, RunIdOpt, RunsRootOpt, SetOpt, TableOut, TextOut, flag, output_option,
                      version_callback)
from .local import (check_index, claims, local_checkpoint_root, local_state, needs, print_summary, readable,
                    runs_dir)
from ..errors import ConfigError
from ..output import document, emit


def load_run(config: Path, overrides: list[str], run_id: str | None, namespace: str | None = None):
    """launcher.loading.load_run, imported on first use: the schema's models are built only by commands
    that read a config, so `launch --help` stays fast."""
    from ..config.loading import load_run as load

    return load(config, overrides, run_id, namespace)


app = typer.Typer(no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Turn experiment configs into Kubernetes Jobs, run them on a cluster or here.")


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", metavar=FLAG, callback=version_callback, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Turn experiment configs into Kubernetes Jobs, run them on a cluster or here."""


def _warn(messages: list[str]) -> None:
    for message in messages:
        typer.echo(f"warning: {message}", err=True)


@app.command()
def validate(configs: Annotated[list[Path], typer.Argument(
                 help="Experiment or sweep (kind: Sweep) YAML files.", metavar="CONFIG", show_default=False)],
             set_: SetOpt = None, run_id: RunIdOpt = None, output: TextOut = "text") -> None:
    """Check configs and print each one's run id; for a sweep file, its trials' count. Exit 2 if any is bad."""
    from .validate import check

    results = [check(config, set_ or [], run_id) for config in configs]
    for result in results:
        _warn(result["warnings"])
        if result["error"]:
            typer.echo(f"error: {result['error']}", err=True)
    if output == "text":
        for r in (r for r in results if not r["error"]):
            typer.echo(f"ok: {r['file']} -> " + (f"sweep {r['sweep']}: {r['trials']} trials" if r["sweep"]
                                                  else f"run {r['run_id']}"))
    else:
        typer.echo(document(results, output))
    raise typer.Exit(2 if any(r["error"] for r in results) else 0)


SchemaSweepFlag = flag("--sweep", help="The schema of sweep files instead.")
SchemaOut = output_option("json", "yaml")


@app.command()
def schema(sweep: SchemaSweepFlag = False, output: SchemaOut = "json") -> None:
    """Print the JSON Schema of experiment configs, or of sweep files (for editor completion)."""
    from ..schema import Experiment
    from ..sweeps.schema import Sweep

    doc = (Sweep if sweep else Experiment).model_json_schema()
    typer.echo(json.dumps(doc, indent=2) if output == "json" else document(doc, output))


RenderOut = output_option("yaml", "json")


@app.command()
def render(config: ConfigArg, set_: SetOpt = None, run_id: RunIdOpt = None,
           namespace: Annotated[Optional[str], typer.Option(
               "--namespace", "-n", metavar="NAME", show_default="the config's; none: kubectl's -n or context",
               help="Namespace written into every object; not part of the run id.")] = None,
           output: RenderOut = "yaml") -> None:
    """Print the run's Kubernetes objects; pipe to `kubectl apply -f -`."""
    from ..render.manifests import render as render_objects
    from ..render.manifests import to_yaml, warnings

    run = load_run(config, set_ or [], run_id, namespace)
    _warn(warnings(run.experiment))
    objects = render_objects(run.experiment, run.run_id)
    typer.echo(to_yaml(objects) if output == "yaml" else json.dumps({"apiVersion": "v1", "kind": "List",
                                                                     "items": objects}, indent=2))


TrainLocalFlag = flag("--local", help="Run the Job on this machine, one process per index.")
TrainWaitFlag = flag("--wait", help="Follow the cluster run to its end; exit 0 only if it succeeded.")
TrainOut = output_option("text", "json", "yaml", help="json, yaml: the summary (stdout), progress on stderr.")


@app.command()
def train(
    config: ConfigArg,
    set_: SetOpt = None,
    run_id: RunIdOpt = None,
    local: TrainLocalFlag = False,
    volume: Annotated[Optional[list[str]], typer.Option(metavar="CLAIM=DIR",
                                                        help="Map a claim to a folder (repeatable).")] = None,
    volumes_root: Annotated[Path, typer.Option(metavar="DIR", help="Folder holding one folder per claim.")
                            ] = Path("volumes"),
    runs_root: RunsRootOpt = None,
    preempt_after: Annotated[Optional[list[float]], typer.Option(
        metavar="SECONDS", min=0, help="Preemption drill: SIGTERM one index this many seconds into the next "
                                       "attempt's training (repeatable).")] = None,
    preempt_index: Annotated[Optional[int], typer.Option(
        metavar="INDEX", min=0, show_default="random", help="Index the preemption drills hit.")] = None,
    kill_after: Annotated[Optional[list[float]], typer.Option(
        metavar="SECONDS", min=0, help="Hard-kill drill: SIGKILL every process of one index, with no notice, this "
                                       "many seconds into training (repeatable; after the preemption drills).")] = None,
    kill_index: Annotated[Optional[int], typer.Option(
        metavar="INDEX", min=0, show_default="random", help="Index the hard-kill drills hit.")] = None,
    pod_backoff: Annotated[float, typer.Option(
        metavar="SECONDS", min=0, help="First step of the pod-failure back-off (the Job controller's is 10).")] = 10.0,
    output: TrainOut = "text",
    namespace: ConfigNamespaceOpt = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    dry_run: Annotated[Optional[Literal["client", "server"]], typer.Option(
        "--dry-run", metavar="client|server", help="client: print what would be created; server: the API server "
                                                   "validates every object (dryRun=All), nothing is created.")] = None,
    wait: TrainWaitFlag = False,
) -> None:
    """Train an experiment: on the cluster of the kubeconfig, or on this machine with --local."""
    needs("--preempt-index", preempt_index, "--preempt-after", preempt_after)
    needs("--kill-index", kill_index, "--kill-after", kill_after)
    if not local:
        target = _target(namespace, context, kubeconfig, runs_root)
        raise typer.Exit(_train_cluster(target, config, set_ or [], run_id, dry_run, wait, output))
    from ..local.runner import LocalOptions, exit_code, train_local
    from ..local.supervisor import Cancelled, Drill
    from ..local.terminal import echo_for

    run = load_run(config, set_ or [], run_id)
    check_index("--preempt-index", preempt_index, run.experiment.resources.nodes)
    check_index("--kill-index", kill_index, run.experiment.resources.nodes)
    drills = [Drill(after, preempt_index) for after in preempt_after or []]
    drills += [Drill(after, kill_index, kill=True) for after in kill_after or []]
    options = LocalOptions(runs_root=runs_dir(runs_root), volumes_root=volumes_root, volumes=claims(volume or []),
                           drills=tuple(drills), backoff_base=pod_backoff)
    echo = echo_for(sys.stdout if output == "text" else sys.stderr)
    try:
        state = train_local(run, options, echo=echo)
    except Cancelled:
        raise typer.Exit(130) from None
    finally:
        echo.close()
    from ..local.status import folder_created, local_status

    summary = local_status(state, folder_created(options.runs_root / run.run_id)).to_json()
    print_summary(summary, output, echo)
    raise typer.Exit(exit_code(state))


def _train_cluster(target, config: Path, overrides: list[str], run_id: str | None, dry_run: str | None, wait: bool,
                   output: str) -> int:
    """`launch train` without --local: --namespace replaces the config's namespace (not part of the run id)."""
    from ..cluster import commands
    from ..render.manifests import warnings

    run = load_run(config, overrides, run_id, target.namespace)
    _warn(warnings(run.experiment))
    return commands.train(target, run, dry_run or "", wait, output, typer.echo)


SweepDryRunFlag = flag("--dry-run", help="Print the trials; send nothing.")
SweepWaitFlag = flag("--wait", help="Reconcile again every 10 s until every trial has ended; exit 1 if one failed.")
SweepLocalFlag = flag("--local", help="Run the trials one after another on this machine.")


@app.command("sweep")
def sweep_command(
    sweep_file: Annotated[Path, typer.Argument(help="Sweep YAML file (kind: Sweep); `status SWEEP`: the trials "
                                                    "ranked by the metric, exit 0 done, 3 running, 1 failed.",
                                               metavar="SWEEP", show_default=False)],
    status_of: Annotated[Optional[Path], typer.Argument(hidden=True, show_default=False)] = None,
    dry_run: SweepDryRunFlag = False,
    wait: SweepWaitFlag = False,
    output: TextOut = "text", namespace: ConfigNamespaceOpt = None, context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = None,
    local: SweepLocalFlag = False,
    volumes_root: Annotated[Path, typer.Option(metavar="DIR", help="--local: folder holding one folder per claim.")
                            ] = Path("volumes"),
) -> None:
    """Create a sweep's missing trials, at most max_parallel running; safe to call again and concurrently."""
    from .sweep import local as sweep_local
    from .sweep import status, sweep

    if local and status_of is None:
        raise typer.Exit(sweep_local(sweep_file, runs_dir(runs_root), volumes_root, output, typer.echo))

    target = _target(namespace, context, kubeconfig, runs_root)
    if str(sweep_file) == "status" and status_of is not None:
        raise typer.Exit(status(target, status_of, output, typer.echo))
    if status_of is not None:
        raise ConfigError(f"launch sweep {sweep_file} {status_of}: one sweep file, or `status SWEEP`")
    raise typer.Exit(sweep(target, sweep_file, dry_run, wait, output, typer.echo))


def _target(namespace, context, kubeconfig, runs_root):
    from ..cluster.commands import Target

    return Target(namespace, context, kubeconfig, runs_dir(runs_root))


@app.command()
def status(run_id: RunArg, local: LocalOpt = False, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = None, output: TableOut = "text") -> None:
    """Show a run: phase, per index its pod, node, state, attempts, preemptions, failures; committed step."""
    if local:
        from ..local.status import folder_created, local_status
        from ..status.table import print_status

        root = runs_dir(runs_root)
        state = local_state(root, run_id)
        print_status(local_status(state, folder_created(root / run_id)), output, typer.echo)
        return
    from ..cluster import commands

    raise typer.Exit(commands.status(_target(namespace, context, kubeconfig, runs_root), run_id, output, typer.echo))


@app.command("list")
def list_runs(local: LocalOpt = False, namespace: NamespaceOpt = None, context: ContextOpt = None,
              kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = None, output: TableOut = "text") -> None:
    """List the runs of a namespace (or, with --local, of this machine), newest last."""
    if not local:
        from ..cluster import commands

        raise typer.Exit(commands.list_runs(_target(namespace, context, kubeconfig, runs_root), output, typer.echo))
    from ..local.state import list_runs as local_runs
    from ..local.status import folder_created, local_status
    from ..status.table import print_list

    root = runs_dir(runs_root)
    states = readable(root, lambda: local_runs(root))
    print_list([local_status(s, folder_created(root / s.run_id)) for s in states], output, typer.echo,
               f"No local runs found in {root} (--runs-root or ${RUNS_ROOT_ENV} moves it).")


FollowFlag = flag("-f", "--follow", help="Follow the index across pod replacements until the run ends.")
LogsOut = output_option("text", "json", help='json: one {"index", "line"} object a line.')


@app.command()
def logs(run_id: RunArg, index: Annotated[int, typer.Option(metavar="INDEX", min=0, help="Completion index.")] = 0,
         attempt: Annotated[Optional[int], typer.Option(
             metavar="K", show_default="the last", help="Attempt K: the K-th pod of the index.")] = None,
         tail: Annotated[Optional[int], typer.Option(metavar="N", min=0, show_default="all",
                                                     help="Only the last N lines.")] = None,
         follow: FollowFlag = False,
         local: LocalOpt = False, namespace: NamespaceOpt = None, context: ContextOpt = None,
         kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = None,
         output: LogsOut = "text",
         ) -> None:
    """Print the log of one attempt of one index, or follow the index (-f)."""
    if attempt is not None and attempt < 1:
        raise ConfigError(f"--attempt {attempt}: attempts count from 1 (default: the last)")
    say = _log_line(index) if output == "json" else typer.echo
    if not local:
        from ..cluster import commands

        target = _target(namespace, context, kubeconfig, runs_root)
        raise typer.Exit(commands.logs(target, run_id, index, attempt, tail, follow, say,
                                       lambda line: typer.echo(line, err=True)))
    from ..local.state import log_path

    root = runs_dir(runs_root)
    state = local_state(root, run_id)
    attempt = attempt or state.last_attempt(index)
    path = log_path(root / run_id, index, attempt)
    if not path.is_file():
        raise ConfigError(f"no log for index {index}, attempt {attempt} of run {run_id}")
    lines = path.read_text(errors="replace").replace("\r", "\n").splitlines()
    for line in lines[-tail:] if tail else lines:
        say(line)


def _log_line(index: int):
    return lambda line: typer.echo(json.dumps({"index": index, "line": line}))


@app.command()
def cancel(run_id: RunArg, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = None, output: TextOut = "text") -> None:
    """Delete a cluster run's Job, pods, ConfigMap and Service (foreground); checkpoints are kept."""
    from ..cluster import commands

    raise typer.Exit(commands.cancel(_target(namespace, context, kubeconfig, runs_root), run_id, output, typer.echo))


@app.command()
def resume(run_id: RunArg, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = None, output: TextOut = "text") -> None:
    """Bring back a Failed or Cancelled cluster run under its run id; it continues from its checkpoint."""
    from ..cluster import commands

    raise typer.Exit(commands.resume(_target(namespace, context, kubeconfig, runs_root), run_id, output, typer.echo))


@app.command()
def doctor(run_id: RunArg, namespace: NamespaceOpt = None, context: ContextOpt = None,
           kubeconfig: KubeconfigOpt = None, runs_root: RunsRootOpt = None, output: TextOut = "text") -> None:
    """Explain why a cluster run is not progressing, with the fix; exit 1 when something is wrong."""
    from ..cluster import commands

    raise typer.Exit(commands.diagnose(_target(namespace, context, kubeconfig, runs_root), run_id, output,
                                       typer.echo))


VerifyFlag = flag("--verify", help="Hash every file (sha256), as a resume does; else sizes only.")


@app.command()
def checkpoints(run_id: RunArg,
                root: Annotated[Optional[str], typer.Option(
                    metavar="DIR|s3://BUCKET/PREFIX", show_default="the local run's",
                    help="Checkpoint root: a folder or an S3 prefix.")] = None,
                verify: VerifyFlag = False,
                runs_root: RunsRootOpt = None, output: TableOut = "text") -> None:
    """List a run's checkpoints: step, commit time (UTC), size, the check made, valid or torn, and which one a
    resume takes (*). Exit 1 when none is usable."""
    from .checkpoints import checkpoints_doc, checkpoints_text, list_checkpoints, note

    where = root or local_checkpoint_root(runs_dir(runs_root), run_id)
    found, store = list_checkpoints(where, run_id, verify)
    doc = checkpoints_doc(run_id, store.location(), verify, found, store.location)
    emit(doc, output, lambda: checkpoints_text(doc, output == "wide"), typer.echo)
    if output in ("text", "wide") and note(doc):
        typer.echo(note(doc), err=True)
    raise typer.Exit(0 if doc["resume_step"] is not None else 1)


from .data import data_app  # noqa: E402  (after `app`: the data commands are a group of their own)

app.add_typer(data_app, name="data")


def main(argv: list[str] | None = None) -> None:
    """Entry point: bad input (a bad option, value or file) is one line on stderr and exit code 2; a bug is
    one line and exit 1 (LAUNCH_DEBUG=1 shows its traceback). Never a traceback otherwise."""
    try:
        code = app(args=argv, prog_name="launch", standalone_mode=False)
    except ConfigError as exc:
        code = _error(str(exc), 2)
    except typer.TyperException as exc:  # Click's usage errors: unknown option, bad -o value, missing argument
        code = _usage(exc)
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except BrokenPipeError:
        sys.stderr.close()  # `launch list | head`: the reader left; nothing more to say
        code = 0
    except Exception as exc:  # noqa: BLE001: the last line of defence against a traceback
        if os.environ.get("LAUNCH_DEBUG"):
            raise
        code = _error(f"{type(exc).__name__}: {exc} (a bug in launch: rerun with LAUNCH_DEBUG=1 and report it)", 1)
    sys.exit(code or 0)


def _error(message: str, code: int) -> int:
    typer.echo(f"error: {message}", err=True)
    return code


def _usage(exc) -> int:
    """Click's error as one line naming the command's help. `launch` (or a group) alone shows its help on
    stdout and exits 0, as `kubectl` does: asking what there is is not a mistake."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        typer.echo(exc.ctx.get_help())
        return 0
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    message = exc.format_message().replace("Value error, ", "")  # Typer's wording for a Literal's choices
    return _error(f"{message}{hint}", exc.exit_code)
