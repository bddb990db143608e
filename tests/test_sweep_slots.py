"""Who holds a sweep's slots after a pass (launcher/cluster/sweeps.assign), data in, data out."""

from types import SimpleNamespace

from launcher.sweeps.reconcile import assign, ended

TRIALS = [SimpleNamespace(run_id=f"s-{c}") for c in "abcde"]


def job(state: str = "") -> dict:
    conditions = {"Succeeded": [{"type": "Complete", "status": "True"}],
                  "Failed": [{"type": "Failed", "status": "True"}],
                  "Failing": [{"type": "FailureTarget", "status": "True"}]}.get(state, [])
    return {"status": {"conditions": conditions}}


def test_empty_slots_go_to_the_first_trials_by_run_id():
    assert assign([], TRIALS, {}, 2) == ["s-a", "s-b"]


def test_a_succeeded_or_failed_trial_frees_its_slot_for_the_next_waiting_one():
    jobs = {"s-a": job("Succeeded"), "s-b": job("Failed"), "s-c": job(), "s-d": job()}
    assert assign(["s-a", "s-b"], TRIALS, jobs, 2) == ["s-c", "s-d"]


def test_a_running_or_preempted_trial_keeps_its_slot():
    assert assign(["s-c", "s-a"], TRIALS, {"s-a": job(), "s-c": job()}, 2) == ["s-c", "s-a"]


def test_a_slot_claimed_for_a_trial_not_created_yet_is_kept_for_it():
    assert assign(["s-e"], TRIALS, {}, 2) == ["s-e", "s-a"]


def test_an_orphan_keeps_its_slot_until_it_ends_and_a_deleted_one_frees_it():
    assert assign(["old-1", "old-2"], TRIALS, {"old-1": job()}, 2) == ["old-1", "s-a"]


def test_fewer_slots_than_holders_takes_none_away():
    assert assign(["s-a", "s-b", "s-c"], TRIALS, {r: job() for r in ("s-a", "s-b", "s-c")}, 1) == ["s-a", "s-b", "s-c"]


def test_ended_reads_the_jobs_conditions():
    assert [ended(job(s)) for s in ("Succeeded", "Failed", "Failing", "")] + [ended(None)] == \
        ["Succeeded", "Failed", "Failed", "", ""]
