"""Who holds a sweep's slots after a pass, and what a pass records of its trials (launcher/sweeps/ledger.py),
data in, data out."""

from types import SimpleNamespace

from launcher.sweeps.ledger import CLAIM_STALE_SECONDS, assign, claims, ended, observe

TRIALS = [SimpleNamespace(run_id=f"s-{c}") for c in "abcde"]
NOW = 1_000_000.0


def job(state: str = "") -> dict:
    conditions = {"Succeeded": [{"type": "Complete", "status": "True"}],
                  "Failed": [{"type": "Failed", "status": "True"}],
                  "Failing": [{"type": "FailureTarget", "status": "True"}]}.get(state, [])
    return {"metadata": {"name": "j"}, "spec": {"completions": 1}, "status": {"conditions": conditions}}


def held(*run_ids: str, at: float = NOW) -> dict[str, float]:
    return {run_id: at for run_id in run_ids}


def test_empty_slots_go_to_the_first_trials_by_run_id():
    assert assign({}, TRIALS, {}, {}, 2, NOW) == held("s-a", "s-b")


def test_a_succeeded_or_failed_trial_frees_its_slot_for_the_next_waiting_one():
    jobs = {"s-a": job("Succeeded"), "s-b": job("Failed"), "s-c": job(), "s-d": job()}
    assert assign(held("s-a", "s-b"), TRIALS, jobs, {}, 2, NOW) == held("s-c", "s-d")


def test_a_running_or_preempted_trial_keeps_its_slot():
    jobs = {"s-a": job(), "s-c": job()}
    assert assign(held("s-c", "s-a", at=0), TRIALS, jobs, {}, 2, NOW) == held("s-c", "s-a", at=0)


def test_a_slot_claimed_for_a_trial_not_created_yet_is_kept_for_it_however_old():
    assert assign(held("s-e", at=0), TRIALS, {}, {}, 2, NOW) == {"s-e": 0, "s-a": NOW}


def test_an_orphan_keeps_its_slot_until_it_ends_and_a_deleted_one_frees_it_once_its_claim_is_stale():
    old = NOW - CLAIM_STALE_SECONDS - 1
    assert assign(held("old-1", "old-2", at=old), TRIALS, {"old-1": job()}, {}, 2, NOW) == {"old-1": old, "s-a": NOW}


def test_a_fresh_claim_of_another_sweep_file_version_is_kept_until_its_job_exists():
    """Defect 4: a pass of the old file dropped the new file's claim (no Job yet, not one of its trials)."""
    assert assign(held("new-1", at=NOW - 5), TRIALS, {}, {}, 1, NOW) == held("new-1", at=NOW - 5)


def test_a_claim_whose_trial_end_is_recorded_frees_its_slot_and_the_trial_is_not_waiting():
    known = {"s-a": {"state": "Succeeded"}, "s-b": {"state": "Gone"}}
    assert assign(held("s-a"), TRIALS, {}, known, 2, NOW) == held("s-c", "s-d")


def test_fewer_slots_than_holders_takes_none_away():
    jobs = {r: job() for r in ("s-a", "s-b", "s-c")}
    assert assign(held("s-a", "s-b", "s-c"), TRIALS, jobs, {}, 1, NOW) == held("s-a", "s-b", "s-c")


def test_an_older_sweeps_list_of_holders_reads_as_claims_made_long_ago():
    assert claims({"data": {"active": '["s-a", "s-b"]'}}) == {"s-a": 0.0, "s-b": 0.0}


def test_ended_reads_the_jobs_conditions():
    assert [ended(job(s)) for s in ("Succeeded", "Failed", "Failing", "")] + [ended(None)] == \
        ["Succeeded", "Failed", "Failed", "", ""]


def test_a_pass_records_ends_creations_and_trials_whose_job_vanished_unseen():
    known = {"s-a": {"state": "created"}, "s-b": {"state": "created"}, "s-c": {"state": "Failed"}}
    jobs = {"s-a": job("Succeeded"), "s-d": job()}
    new = observe(known, jobs, {})
    assert {r: u["state"] for r, u in new.items()} == {"s-a": "Succeeded", "s-b": "Gone", "s-d": "created"}
    assert observe({**known, **new}, jobs, {}) == {}
