"""What `launch sweep SWEEP [--dry-run] [--wait] [-o json]`, `launch sweep status SWEEP` and `launch sweep
SWEEP --local` do; launcher/cli/app.py parses the options.

A pass prints a table, a row per trial (run id, state, the values that vary), and a summary line for
people, or one JSON document per pass for `-o json` (the same as YAML for `-o yaml`): {"sweep", "namespace",
"max_parallel", "queue", "trials": [{"run_id", "values", "state", "created"}], "orphans", "done"}; exit 0
(with --wait: every trial succeeded) or 1 (--wait: some trial failed, or is Gone). `status` and `--local` print ranked
rows (launcher/sweeps/rank.py).
"""

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from ..output import document, table
from ..sweeps.expand import Trial, expand
from ..sweeps.loading import LoadedSweep, load_sweep
from ..sweeps.rank import ENDED

Say = Callable[[str], None]
WAIT_SECONDS = 10.0  # between passes of --wait


def load_trials(path: Path, namespace: str | None) -> tuple[LoadedSweep, list[Trial]]:
    """The sweep and its trials; `namespace` (--namespace) replaces the base config's, as `launch train`'s
    --namespace does, so it is part of each trial's resolved config."""
    loaded = load_sweep(path)
    if namespace:
        loaded = dataclasses.replace(loaded, base={**loaded.base, "namespace": namespace})
    return loaded, expand(loaded)


def summary(loaded: LoadedSweep, trials: list[Trial], states: dict[str, str], created: list[str],
            orphans: list[str], namespace: str | None = None) -> dict:
    """The JSON document of one pass (see the module docstring); `namespace`: where the pass looked (a dry
    run: the one -n or the config names, null for the context's)."""
    sweep = loaded.sweep
    configured = trials[0].experiment.namespace if trials else None
    return {"sweep": sweep.name, "namespace": namespace or configured,
            "max_parallel": sweep.max_parallel, "queue": trials[0].experiment.scheduling.queue if trials else None,
            "trials": [{"run_id": t.run_id, "values": t.values, "state": states.get(t.run_id, "planned"),
                        "created": t.run_id in created} for t in trials],
            "orphans": orphans,
            "done": bool(states) and all(s in ENDED for s in states.values())}


def show(doc: dict, output: str, say: Say) -> None:
    """Print a pass: one JSON/YAML document, or a table (a row per trial, a column per value that varies),
    a line per orphan and a summary."""
    if output in ("json", "yaml"):
        say(document(doc, output))
        return
    keys = _value_keys(doc["trials"])
    say(table(["name", "state", "created", *keys],
              [[row["run_id"], row["state"], "yes" if row["created"] else "", *(row["values"].get(k) for k in keys)]
               for row in doc["trials"]]))
    for orphan in doc["orphans"]:
        say(f"{orphan}  orphaned: no trial of the sweep file has this config any more (left as is)")
    counts = {}
    for row in doc["trials"]:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    say(f"sweep {doc['sweep']}: {len(doc['trials'])} trials, "
        + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))


def _value_keys(rows: list[dict]) -> list[str]:
    """The config paths the trials vary, in first-seen order."""
    return list(dict.fromkeys(key for row in rows for key in row["values"]))


def sweep(target, path: Path, dry_run: bool, wait: bool, output: str, say: Say,
          interval: float = WAIT_SECONDS) -> int:
    """Expand the sweep and, unless `dry_run` (expansion only, nothing sent), reconcile the cluster once, or
    with `wait` until every trial has ended. `target`: launcher.cluster.commands.Target."""
    loaded, trials = load_trials(path, target.namespace)
    if dry_run:
        show(summary(loaded, trials, {}, [], []), output, say)
        return 0
    from ..cluster.reconnect import Reconnect
    from ..sweeps.reconcile import reconcile

    kube = target.kube(trials[0].experiment.namespace)
    # With --wait, passes ride out an API server outage (a pass cut half-way is simply made again).
    passes = Reconnect().call if wait else (lambda fn, *args: fn(*args))
    while True:
        result = passes(reconcile, kube, loaded.sweep.name, trials, loaded.sweep.max_parallel)
        show(summary(loaded, trials, result.states, result.created, result.orphans, kube.namespace), output, say)
        if not wait or result.done:
            break
        time.sleep(interval)
    return 1 if wait and any(s != "Succeeded" for s in result.states.values()) else 0


def show_ranked(doc: dict, output: str, say: Say) -> None:
    """Print ranked rows (launcher/sweeps/rank.py) and the sweep's state: one JSON/YAML document, or a table,
    best first, and a line."""
    if output in ("json", "yaml"):
        say(document(doc, output))
        return
    name = doc["metric"]["name"] if doc["metric"] else "metric"
    keys = _value_keys(doc["trials"])
    say(table(["name", "state", "attempts", "preemptions", name, *keys],
              [[row["run_id"], row["state"], row["attempts"], row["preemptions"], row["metric"],
                *(row["values"].get(k) for k in keys)] for row in doc["trials"]]))
    say(f"sweep {doc['sweep']}: {doc['state']}")


def status(target, path: Path, output: str, say: Say) -> int:
    """`launch sweep status SWEEP`: the ranked trials and the sweep's state; exit 0 (every trial succeeded),
    3 (trials still to run or running) or 1 (every trial ended, some failed)."""
    from ..sweeps.cluster_status import sweep_status
    from ..sweeps.rank import sweep_state

    loaded, trials = load_trials(path, target.namespace)
    kube = target.kube(trials[0].experiment.namespace)
    doc = sweep_status(kube, loaded.sweep.name, trials, loaded.sweep.metric)
    show_ranked(doc, output, say)
    return sweep_state(doc["trials"])[1]


def local(path: Path, runs_root: Path, volumes_root: Path, output: str, say: Say) -> int:
    """`launch sweep SWEEP --local`: the trials one after another with the local runner (a trial that already
    succeeded under runs_root is not run again), then the ranked rows; exit 0 if all succeeded, else 1."""
    import sys

    from ..config.loading import Run
    from ..local.echo import Echo
    from ..local.runner import LocalOptions, train_local
    from ..local.status import folder_created, local_status
    from ..sweeps.rank import ranked, row, sweep_state

    loaded, trials = load_trials(path, None)
    options = LocalOptions(runs_root=runs_root, volumes_root=volumes_root)
    echo, rows = Echo(sys.stderr if output in ("json", "yaml") else sys.stdout), []
    for trial in trials:
        state = train_local(Run(trial.experiment, trial.run_id, str(path)), options, echo=echo)
        done = local_status(state, folder_created(runs_root / trial.run_id))
        rows.append(row(trial, done.status, done.attempts, done.preemptions, done.metrics, loaded.sweep.metric))
    state, code = sweep_state(rows)
    metric = loaded.sweep.metric
    show_ranked({"sweep": loaded.sweep.name, "state": state,
                 "metric": metric.model_dump() if metric else None, "trials": ranked(rows, metric)}, output, say)
    return min(code, 1)
