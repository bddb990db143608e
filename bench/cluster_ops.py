"""API calls and wall time of `launch` cluster operations on the test control plane, and CLI start-up.

    .venv/bin/python bench/cluster_ops.py [--rounds 5] [--nodes 16]

- submit: one run of configs/quickstart.yaml (`resources.nodes=<nodes>`) through launcher/cluster/submit.py;
  the API calls Kube counted (retries included) and the wall time, in this process (no interpreter start-up).
- status: `ops.read_status` on that run once the Job controller has created its <nodes> pods (calls, wall).
- fresh processes, side by side (one of each per round, `--rounds` rounds after a warm-up; medians, and each
  one's ratio to kubectl's): `launch status RUN -o json`, `launch list`, `launch --help`,
  `launch validate configs/smoke.yaml`, and `kubectl get job RUN -o json` (/usr/bin/kubectl) on the same run.

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
KUBECTL = "/usr/bin/kubectl"


def side_by_side(commands: dict[str, list[str]], rounds: int) -> dict:
    """Median seconds of each command as a fresh process, one of each per round (so load hits all alike),
    after one warm-up each; and each median's ratio to kubectl's."""
    times = {name: [] for name in commands}
    for round_ in range(rounds + 1):
        for name, command in commands.items():
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, cwd=ROOT)
            if round_:
                times[name].append(time.perf_counter() - started)
    medians = {name: round(statistics.median(t), 3) for name, t in times.items()}
    return {name: {"median_s": m, "x_kubectl": round(m / medians["kubectl_get_job"], 2)}
            for name, m in medians.items()}


def timed(kube: Kube, action):
    """(result, API calls, seconds) of one action."""
    before, started = kube.calls, time.perf_counter()
    result = action()
    return result, kube.calls - before, round(time.perf_counter() - started, 3)


def cluster_numbers(workdir: Path, nodes: int, rounds: int) -> dict:
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
        where = ["--namespace", namespace, "--kubeconfig", str(cluster.kubeconfig)]
        cli = [*LAUNCH, "status", run_id, "-o", "json", *where]
        shown = json.loads(subprocess.run(cli, capture_output=True, text=True, check=True, cwd=ROOT).stdout)
        fresh = side_by_side({"kubectl_get_job": [KUBECTL, "get", "job", run_id, "-o", "json", *where],
                              "launch_status_json": cli, "launch_list": [*LAUNCH, "list", *where],
                              "launch_help": [*LAUNCH, "--help"],
                              "launch_validate_smoke": [*LAUNCH, "validate", "configs/smoke.yaml"]}, rounds)
        return {"submit": {"api_calls": submit_calls, "seconds": submit_s},
                "status": {"indexes": len(status.indexes), "pods": status.attempts, "api_calls": status_calls,
                           "seconds": status_s, "cli_indexes": len(shown["indexes"])},
                "fresh_process": fresh}
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        numbers = cluster_numbers(Path(tmp), args.nodes, args.rounds)
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
