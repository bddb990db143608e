"""Time from a hard kill (SIGKILL to every process of one index, no notice) to training resumed, against the
start-up of a fresh attempt, and the steps replayed; configs/smoke.yaml on 2 and 3 local nodes.

    .venv/bin/python bench/hard_kill.py [--rounds 2]

Goal (issue: hard loss): kill-to-resumed <= fresh start-up + 30 s. Prints one JSON object per round and
the medians. Needs the demo volumes (`launch data reviews`, `launch data minilm`).
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time

STARTED = re.compile(r"training from step (\d+)")
REPLAYED = re.compile(r"(\d+) step\(s\) replayed")


def one_round(nodes: int, index: int, kill_after: float) -> dict:
    """One drilled run; times are taken here as the lines arrive."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "launcher", "train", "configs/smoke.yaml", "--local", "--run-id", "bench-kill",
               "--runs-root", f"{tmp}/runs", "--volume", f"checkpoints={tmp}/ckpt", "--set", f"resources.nodes={nodes}",
               "--kill-after", str(kill_after), "--kill-index", str(index)]
        launched = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        marks: dict[str, float] = {}
        replayed = None
        for line in proc.stdout:
            now = time.monotonic()
            if STARTED.search(line):
                marks.setdefault("first_training" if "killed" not in marks else "resumed", now)
            elif "hard-kill drill" in line:
                marks["killed"] = now
            elif match := REPLAYED.search(line):
                replayed = int(match.group(1))
        proc.wait()
    return {"nodes": nodes, "killed_index": index, "status": proc.returncode,
            "fresh_startup_s": round(marks["first_training"] - launched, 1),
            "kill_to_resumed_s": round(marks["resumed"] - marks["killed"], 1), "steps_replayed": replayed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kill-after", type=float, default=4.0)
    args = parser.parse_args()
    for nodes in (2, 3):
        rounds = [one_round(nodes, index=1, kill_after=args.kill_after) for _ in range(args.rounds)]
        for result in rounds:
            print(json.dumps(result), flush=True)
        fresh = statistics.median(r["fresh_startup_s"] for r in rounds)
        resumed = statistics.median(r["kill_to_resumed_s"] for r in rounds)
        print(json.dumps({"nodes": nodes, "median_fresh_startup_s": fresh, "median_kill_to_resumed_s": resumed,
                          "goal_met": resumed <= fresh + 30}), flush=True)


if __name__ == "__main__":
    main()
