"""`launch train --local`: render the Job exactly as for the cluster, then run that Job here."""

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..config.identity import config_hash
from ..config.loading import ConfigError, Run
from ..render.manifests import config_yaml, render, to_yaml
from ..schema import EXIT_BAD_CONFIG
from ..schema.contract import LOGS_AREA
from .echo import Echo
from .pod import claim_folders, local_config, local_pod
from .preflight import check_files, grace_warning
from .state import RunState
from .supervisor import Drill, Supervisor


@dataclass(frozen=True)
class LocalOptions:
    runs_root: Path = Path("runs")
    volumes_root: Path = Path("volumes")
    volumes: dict[str, Path] = field(default_factory=dict)
    drills: tuple[Drill, ...] = ()
    backoff_base: float = 10.0  # seconds: the Job controller's first pod-failure back-off step


def train_local(run: Run, options: LocalOptions, echo: Echo) -> RunState:
    """Run (or report) `run` on this machine; returns its final state. Raises Cancelled on Ctrl-C."""
    folder = options.runs_root / run.run_id
    state = _existing_state(run, folder)
    if state and state.status == "Succeeded":
        unused = " (the drills were not used)" if options.drills else ""
        echo.line(f"[job] run {run.run_id} already succeeded: nothing to do{unused}; "
                  "to train again, pass a new --run-id")
        return state
    objects = render(run.experiment, run.run_id)
    job = objects[-1]
    folders = claim_folders(job, options.volumes_root, options.volumes)
    for path in folders.values():
        path.mkdir(parents=True, exist_ok=True)
    here = local_config(run.experiment, folders)
    check_files(here)  # before any process starts: a missing file is a config error, not 18 s of crashes
    if message := grace_warning(here):
        echo.line(f"[job] warning: {message}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifests.yaml").write_text(to_yaml(objects))
    (folder / "config.yaml").write_text(config_yaml(here))
    checkpoint_root = here.storage.checkpoints.root
    pod = local_pod(job, (folder / "config.yaml").resolve(), checkpoint_root)
    state = state or RunState(run.run_id, config_hash(run.experiment))
    state.status, state.reason = "Pending", ""
    state.logs_dir = f"{str(checkpoint_root).rstrip('/')}/{run.run_id}/{LOGS_AREA}"  # where the trainer writes them
    state = Supervisor(pod, folder, state, list(options.drills), echo, backoff_base=options.backoff_base).run()
    if state.status == "Succeeded":
        _record_final(state, Path(checkpoint_root) / run.run_id / "final", folder)
    return state


def exit_code(state: RunState) -> int:
    """`launch train --local`'s exit code: 0 succeeded; 2 failed on bad config or data (a pod exited with
    EXIT_BAD_CONFIG, as README's exit-code table says); 1 any other end."""
    if state.status == "Succeeded":
        return 0
    return 2 if any(r.get("exit_code") == EXIT_BAD_CONFIG for r in state.history) else 1


def _existing_state(run: Run, folder: Path) -> RunState | None:
    state = RunState.load(folder)
    if state and state.config_hash != config_hash(run.experiment):
        raise ConfigError(f"run id {run.run_id} already holds another config (hash {state.config_hash}); "
                          "choose another --run-id")
    return state


def _record_final(state: RunState, final: Path, folder: Path) -> None:
    state.final_dir = str(final)
    metrics = final / "metrics.json"
    if metrics.is_file():
        state.metrics = {k: v for k, v in json.loads(metrics.read_text()).items() if not isinstance(v, list)}
    state.save(folder)
