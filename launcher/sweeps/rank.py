"""Rank a sweep's trials by its metric and say whether the sweep is done: shared by `launch sweep status`
(launcher/sweeps/cluster_status.py) and `launch sweep --local`. Pure: rows in, rows out.

A row: {"run_id", "values", "state", "attempts", "preemptions", "metric"} ("metric": the value of the
sweep's metric in the trial's final metrics, None before it has one)."""

from .schema import Metric

EXIT_DONE, EXIT_FAILED, EXIT_RUNNING = 0, 1, 3
ENDED = ("Succeeded", "Failed", "Gone")  # launcher/sweeps/ledger.py's ended states


def row(trial, state: str, attempts: int, preemptions: int, metrics: dict, metric: Metric | None) -> dict:
    """The row of a launcher.sweep_expand.Trial."""
    return {"run_id": trial.run_id, "values": trial.values, "state": state, "attempts": attempts,
            "preemptions": preemptions, "metric": metrics.get(metric.name) if metric else None}


def ranked(rows: list[dict], metric: Metric | None) -> list[dict]:
    """Rows with a metric value first, the best first (highest for goal max, lowest for min), then the
    others by run id. Pure."""
    scored = [r for r in rows if isinstance(r["metric"], (int, float))]
    sign = -1 if metric and metric.goal == "max" else 1
    rest = sorted((r for r in rows if r not in scored), key=lambda r: r["run_id"])
    return sorted(scored, key=lambda r: (sign * r["metric"], r["run_id"])) + rest


def sweep_state(rows: list[dict]) -> tuple[str, int]:
    """("Running", 3) until every trial has ended (Succeeded, Failed, or Gone: its Job removed before anyone
    saw how it ended); then ("Succeeded", 0) if all succeeded, else ("Failed", 1)."""
    if any(r["state"] not in ENDED for r in rows):
        return "Running", EXIT_RUNNING
    if any(r["state"] != "Succeeded" for r in rows):
        return "Failed", EXIT_FAILED
    return "Succeeded", EXIT_DONE
