"""Expanding and reconciling a 200-trial sweep against the real API server of tests/cluster (docs/benchmarks.md).

    .venv/bin/python bench/sweep.py [--trials 200] [--max-parallel 10]

- expand: wall time of loading and expanding the sweep (a grid of train.lr over configs/quickstart.yaml).
- first pass: every trial created (max_parallel unsuspended): API calls (Kube.calls, retries included), wall.
- steady pass: every trial exists: API calls and wall; the number of calls must not grow with the trials.

Starts the control plane (built by `make controlplane`) in a temporary folder and stops it. Prints one JSON object.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from launcher.cluster.api import Kube  # noqa: E402
from launcher.sweeps.reconcile import reconcile  # noqa: E402
from launcher.cli.sweep import load_trials  # noqa: E402
from tests.cluster.namespaces import create_namespace  # noqa: E402
from tests.cluster.session import start_cluster  # noqa: E402


def write_sweep(folder: Path, trials: int, max_parallel: int) -> Path:
    """A grid of `trials` learning rates over configs/quickstart.yaml."""
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "kind": "Sweep", "name": "bench", "max_parallel": max_parallel,
        "base": {"config": str(ROOT / "configs/quickstart.yaml")},
        "grid": {"train.lr": [round(1e-6 * (i + 1), 9) for i in range(trials)]}}))
    return path


def timed_pass(kube: Kube, name: str, trials: list, max_parallel: int) -> dict:
    """API calls and seconds of one reconcile pass."""
    before, started = kube.calls, time.perf_counter()
    result = reconcile(kube, name, trials, max_parallel)
    return {"api_calls": kube.calls - before, "seconds": round(time.perf_counter() - started, 3),
            "created": len(result.created), "active": sum(s == "active" for s in result.states.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--max-parallel", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_sweep(Path(tmp), args.trials, args.max_parallel)
        started = time.perf_counter()
        loaded, trials = load_trials(path, "bench")
        expand_seconds = round(time.perf_counter() - started, 3)
        cluster = start_cluster(Path(tmp) / "cluster")
        try:
            create_namespace(cluster.api, "bench")
            kube = Kube(cluster.api, "bench")
            first = timed_pass(kube, loaded.sweep.name, trials, args.max_parallel)
            steady = timed_pass(kube, loaded.sweep.name, trials, args.max_parallel)
        finally:
            cluster.stop()
    print(json.dumps({"trials": len(trials), "max_parallel": args.max_parallel, "expand_seconds": expand_seconds,
                      "first_pass": first, "steady_pass": steady}))


if __name__ == "__main__":
    main()
