"""`python -m trainer --config PATH`: the image's entrypoint. Maps every outcome to the Job's exit codes."""

import argparse
import logging
import os
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from launcher.schema import EXIT_BAD_CONFIG, EXIT_CRASH, EXIT_OK, EXIT_REQUEUE, Experiment
from launcher.schema import contract as c
from launcher.schema.errors import describe

from .checkpoints.store import StoreError
from .checkpoints.uri import open_store
from .env import Cluster
from .preemption import Preempted
from .records import DataError
from .signals import StopFlag


def load_config(path: Path) -> Experiment:
    try:
        return Experiment.model_validate(yaml.safe_load(path.read_text()))
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: invalid YAML: {exc}") from None
    except ValidationError as exc:
        raise DataError(f"{path}: {describe(exc)[1]}") from None


def main(argv: list[str] | None = None, flag: StopFlag | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    parser.add_argument("--config", type=Path, default=Path(os.environ.get(c.ENV_EXPERIMENT_CONFIG, c.CONFIG_PATH)))
    args = parser.parse_args(argv)
    flag = flag or StopFlag()
    _quiet_libraries()
    cluster = Cluster.from_env()
    if cluster.needs_agent:
        return _run_agent(args.config, cluster, flag)
    try:
        from .requeue import PeerLost, RequeueLoop
        from .run import train  # torch and Lightning load only after the arguments are sane

        exp = load_config(args.config)
        metrics = train(exp, cluster, flag, args.config.read_bytes())
    except DataError as exc:
        return _finish(EXIT_BAD_CONFIG, f"error: {exc}")
    except StoreError as exc:
        return _finish(EXIT_BAD_CONFIG if exc.permanent else EXIT_CRASH, f"error: {exc}")
    except (Preempted, PeerLost) as exc:
        return _finish(EXIT_REQUEUE, f"requeue: {exc}")
    except RequeueLoop as exc:
        return _finish(EXIT_CRASH, f"error: {exc}")
    scalars = {k: v for k, v in metrics.items() if not isinstance(v, list)}
    return _finish(EXIT_OK, "finished: " + ", ".join(f"{k}={v}" for k, v in scalars.items()), scalars)


def _run_agent(config: Path, cluster: Cluster, flag: StopFlag) -> int:
    """This pod's elastic agent, which forms the gang and runs this pod's workers (trainer/agent.py).
    Once the agent has run, this ends the process itself (os._exit) instead of returning."""
    try:
        exp = load_config(config)
    except DataError as exc:
        return _finish(EXIT_BAD_CONFIG, f"error: {exc}")
    from .agent import run_agent
    from .checkpoints.final import finished_metrics

    if flag.requested:
        return _finish(EXIT_REQUEUE, "requeue: stopped before the gang formed")
    final = open_store(cluster.checkpoint_uri, cluster.run_id, area="final")
    try:
        final.check()
        if finished_metrics(final) is not None:  # the gang is gone: no rendezvous would ever fill
            return _finish(EXIT_OK, f"already finished: the final model in {final.location()} verifies")
    except StoreError as exc:
        return _finish(EXIT_BAD_CONFIG if exc.permanent else EXIT_CRASH, f"error: {exc}")
    code = run_agent(exp, cluster, ["--config", str(config)], finished=lambda: _verifies(final))
    # torch's TCPStore threads outlive the agent's Python objects and abort the process at interpreter exit
    # ("terminate called without an active exception", exit -6); the agent has nothing left to flush.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _verifies(final) -> bool:
    """Whether the final model is committed; False when the store cannot tell right now."""
    from .checkpoints.final import finished_metrics

    try:
        return finished_metrics(final) is not None
    except Exception as exc:  # a store error while stopping must not turn a requeue into a crash
        print(f"warning: could not check the final model: {exc}", file=sys.stderr, flush=True)
        return False


def _finish(code: int, summary: str, metrics: dict | None = None) -> int:
    """Print the outcome and leave it in the termination log as contract.termination_message (with the newest
    committed checkpoint step and the final metrics), where `launch status` and `kubectl describe` read it."""
    print(summary, file=sys.stderr if code else sys.stdout, flush=True)
    # One writer per container: the workers of a multi-process pod share the file, and two truncating
    # writes of different lengths would leave a torn line. Local rank 0 (or the only process) writes it.
    first = os.environ.get("LOCAL_RANK", "0") == "0"
    if first and Path(c.TERMINATION_LOG).parent.is_dir() and os.access(c.TERMINATION_LOG, os.W_OK):
        message = c.termination_message(code, summary, _committed_step(), metrics)
        Path(c.TERMINATION_LOG).write_text(message + "\n")
    return code


def _committed_step() -> int | None:
    """The newest checkpoint step of this run whose files match its manifest (sizes), or None; a store that
    cannot be read (bad config, no credentials) gives None rather than hiding the exit's own reason."""
    from .checkpoints.catalog import entries  # torch-free

    cluster = Cluster.from_env()
    try:
        store = open_store(cluster.checkpoint_uri, cluster.run_id)
        return next((e.step for e in entries(store) if e.valid), None)
    except (StoreError, OSError, ValueError):
        return None


def _quiet_libraries() -> None:
    """Keep the log to our phase and progress lines and real problems."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from the model volume, never a hub
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.getLogger("transformers").setLevel(logging.ERROR)
