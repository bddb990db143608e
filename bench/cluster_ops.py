"""API calls and wall time of `launch` cluster operations on the test control plane, and CLI start-up.

    .venv/bin/python bench/cluster_ops.py [--rounds 5] [--nodes 16]

- start-up: median wall time of `launch --help` and `launch validate configs/bert.yaml` (fresh processes).
- submit: one run of configs/quickstart.yaml (`resources.nodes=<nodes>`) through launcher/cluster/submit.py;
  the API calls Kube counted (retries included) and the wall time, in this process (no interpreter start-up).
- status: `ops.read_status` on that run once the Job controller has created its <nodes> pods (calls, wall);
  then `launch status RUN -o json` as a fresh process (wall, start-up included).

Starts the control plane of tests/cluster (built by `make controlplane`) in a temporary folder and stops it.
Prints one JSON object.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from launcher.cluster import ops  # noqa: E402
from launcher.cluster.api import Kube  # noqa: E402
from launcher.cluster.submit import submit  # noqa: E402
from tests.cluster.namespaces import create_namespace  # noqa: E402
from tests.cluster.objects import run_objects  # noqa: E402
from tests.cluster.session import start_cluster  # noqa: E402
from tests.cluster.wait import until  # noqa: E402

LAUNCH = [sys.executable, "-m", "launcher"]


def median_wall(args: list[str], rounds: int) -> float:
    """Median seconds of `launch ARGS` over `rounds` fresh processes (after one warm-up)."""
    subprocess.run(LAUNCH + args, capture_output=True, check=True, cwd=ROOT)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(LAUNCH + args, capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def timed(kube: Kube, action):
    """(result, API calls, seconds) of one action."""
    before, started = kube.calls, time.perf_counter()
    result = action()
    return result, kube.calls - before, round(time.perf_counter() - started, 3)


def cluster_numbers(workdir: Path, nodes: int) -> dict:
    cluster = start_cluster(workdir)
    try:
        namespace = "bench"
        create_namespace(cluster.api, namespace)
        kube = Kube(cluster.control_plane.client(), namespace)
        objects = list(run_objects("quickstart.yaml", namespace, f"resources.nodes={nodes}").values())
        submitted, submit_calls, submit_s = timed(kube, lambda: submit(kube, objects))
        run_id = submitted.job["metadata"]["name"]
        until(lambda: len(kube.pods(ops.run_selector(run_id))) == nodes, 60, f"{nodes} pods")
        status, status_calls, status_s = timed(kube, lambda: ops.read_status(kube, run_id))
        cli = [*LAUNCH, "status", run_id, "-o", "json", "--namespace", namespace, "--kubeconfig",
               str(cluster.kubeconfig)]
        started = time.perf_counter()
        shown = json.loads(subprocess.run(cli, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
        cli_s = round(time.perf_counter() - started, 3)
        return {"submit": {"api_calls": submit_calls, "seconds": submit_s},
                "status": {"indexes": len(status.indexes), "pods": status.attempts, "api_calls": status_calls,
                           "seconds": status_s, "cli_seconds": cli_s, "cli_indexes": len(shown["indexes"])}}
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=16)
    args = parser.parse_args()
    startup = {"help_s": median_wall(["--help"], args.rounds),
               "validate_s": median_wall(["validate", "configs/bert.yaml"], args.rounds)}
    with tempfile.TemporaryDirectory() as tmp:
        numbers = cluster_numbers(Path(tmp), args.nodes)
    print(json.dumps({"startup_median": startup, **numbers}))


if __name__ == "__main__":
    main()
