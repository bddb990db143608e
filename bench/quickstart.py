"""Where the quickstart's wall time goes: the local quickstart Job (configs/quickstart.yaml, 2 nodes, one
spot-notice drill 60 s into training), each phase timed as its lines arrive.

    .venv/bin/python bench/quickstart.py [--rounds 1] [--set train.precision=32 ...]

Phases: data (`launch data reviews|minilm`), start-up (pods started -> rank 0 says "training from step", per
attempt: imports, rendezvous, tokenizing, the model), training (training started -> the test begins, less the
drill's gap), the drill's gap (SIGTERM -> training resumed: commit, requeue, the controller's 10 s back-off,
the new pod's start-up), test (the test split -> the run's summary). Also the seconds per optimizer step
between step lines. Needs `make setup`. Prints one JSON object per round, then the medians.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time

MARKS = {  # phase boundary -> the first line (after the previous mark) that ends it
    "pods_started": re.compile(r"\[job\] index 0: starting attempt 1"),
    "training": re.compile(r"training from step 0 "),
    "drill": re.compile(r"\[job\] preemption drill"),
    "resumed": re.compile(r"training from step \d+ .*\(resumed\)"),
    "test": re.compile(r"evaluating on the test split"),
    "summary": re.compile(r"^test accuracy: "),
}
STEP = re.compile(r"reached step (\d+)/")
ACCURACY = re.compile(r"^test accuracy: ([\d.]+)")


def run(cmd: list[str]) -> list[tuple[float, str]]:
    """The command's output lines, each with the seconds since it was started."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
    if proc.wait():
        sys.exit("\n".join(line for _, line in lines[-20:]))
    return lines


def marks(lines: list[tuple[float, str]]) -> dict[str, float]:
    found, names = {}, iter(MARKS)
    name = next(names)
    for at, line in lines:
        if name and MARKS[name].search(line):
            found[name] = at
            name = next(names, None)
    return found


def seconds_per_step(lines: list[tuple[float, str]]) -> float:
    """Median over consecutive step lines of the same attempt (no drill or validation between them)."""
    steps = [(at, int(m.group(1))) for at, line in lines if (m := STEP.search(line))]
    rates = [(t2 - t1) / (s2 - s1) for (t1, s1), (t2, s2) in zip(steps, steps[1:]) if s2 > s1]
    return round(statistics.median(rates), 3)


def one_round(overrides: list[str]) -> dict:
    launch = [sys.executable, "-m", "launcher"]
    with tempfile.TemporaryDirectory() as tmp:
        data = run([*launch, "data", "reviews", "--out", f"{tmp}/v/datasets/reviews"])[-1][0] + \
            run([*launch, "data", "minilm", "--out", f"{tmp}/v/models/all-MiniLM-L6-v2"])[-1][0]
        sets = [arg for item in overrides for arg in ("--set", item)]
        lines = run([*launch, "train", "configs/quickstart.yaml", "--local", "--preempt-after", "60", *sets,
                     "--runs-root", f"{tmp}/runs", "--volumes-root", f"{tmp}/v"])
    m, total = marks(lines), lines[-1][0]
    gap = m["resumed"] - m["drill"]
    accuracy = next(float(a.group(1)) for _, line in lines if (a := ACCURACY.search(line)))
    return {"total_s": round(data + total, 1), "data_s": round(data, 1),
            "first_start_up_s": round(m["training"] - m["pods_started"], 1), "drill_gap_s": round(gap, 1),
            "training_s": round(m["test"] - m["training"] - gap, 1), "test_s": round(m["summary"] - m["test"], 1),
            "s_per_step": seconds_per_step(lines), "test_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args()
    rounds = []
    for _ in range(args.rounds):
        rounds.append(one_round(args.overrides))
        print(json.dumps(rounds[-1]), flush=True)
    print(json.dumps({"median": {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}}))


if __name__ == "__main__":
    main()
