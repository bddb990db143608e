"""The outcome table itself (tests/job_outcomes.py) is consistent, so both runners read it the same way."""

import pytest

from launcher.schema import EXIT_OK
from tests.job_outcomes import PREEMPT, SCENARIOS, Outcome, Scenario


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_a_complete_scenario_ends_every_index_with_success_and_a_failed_one_names_its_reason(scenario):
    last_steps = {script[-1] for script in scenario.attempts}
    if scenario.expected.condition == "Complete":
        assert last_steps == {EXIT_OK} and scenario.expected.reason == ""
    else:
        assert EXIT_OK not in last_steps and scenario.expected.reason in ("PodFailurePolicy", "BackoffLimitExceeded")


def test_step_follows_the_script_then_succeeds_for_gang_restarts():
    scenario = Scenario("s", 2, 0, ((PREEMPT, EXIT_OK), (EXIT_OK,)), Outcome("Complete", preemptions=1))
    assert [scenario.step(0, a) for a in (1, 2, 3)] == [PREEMPT, EXIT_OK, EXIT_OK]
    assert [scenario.step(1, a) for a in (1, 2)] == [EXIT_OK, EXIT_OK]


def test_a_scenario_needs_one_script_per_index():
    with pytest.raises(ValueError, match="one attempt list per index"):
        Scenario("s", 2, 0, ((EXIT_OK,),), Outcome("Complete"))


def test_local_status_names_the_end_as_the_local_runner_does():
    assert (Outcome("Complete").local_status, Outcome("Failed", "PodFailurePolicy").local_status) == \
        ("Succeeded", "Failed")
