"""`launch sweep status`'s pure half: the best trial first by the sweep's metric, and the exit code a CI step
gates on (0 every trial succeeded, 3 still running, 1 some failed)."""

from launcher.sweeps.rank import ranked, sweep_state
from launcher.sweeps.schema import Metric


def row(run_id: str, state: str = "Succeeded", metric: float | None = None) -> dict:
    return {"run_id": run_id, "values": {}, "state": state, "attempts": 1, "preemptions": 0, "metric": metric}


ROWS = [row("s-c", metric=0.7), row("s-a", "Running"), row("s-b", metric=0.9), row("s-d", metric=0.8)]


def test_goal_max_puts_the_highest_first_and_unscored_trials_last():
    assert [r["run_id"] for r in ranked(ROWS, Metric(name="acc", goal="max"))] == ["s-b", "s-d", "s-c", "s-a"]


def test_goal_min_puts_the_lowest_first():
    assert [r["run_id"] for r in ranked(ROWS, Metric(name="loss", goal="min"))] == ["s-c", "s-d", "s-b", "s-a"]


def test_without_a_metric_trials_are_listed_by_run_id():
    assert [r["run_id"] for r in ranked([row("s-b"), row("s-a")], None)] == ["s-a", "s-b"]


def test_the_sweep_is_running_until_every_trial_has_ended():
    assert sweep_state([row("a"), row("b", "Failed"), row("c", "Suspended")]) == ("Running", 3)
    assert sweep_state([row("a"), row("b", "Missing")]) == ("Running", 3)
    assert sweep_state([row("a"), row("b", "Failed")]) == ("Failed", 1)
    assert sweep_state([row("a"), row("b")]) == ("Succeeded", 0)
