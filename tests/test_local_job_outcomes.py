"""The local runner reaches the outcome the real Job controller reached (tests/job_outcomes.py, measured on
kube-controller-manager v1.37.2 by tests/test_cluster_job_outcomes.py) for the same pod endings."""

import io
import json
import sys

import pytest

from launcher.local.echo import Echo
from launcher.local.pod import LocalPod
from launcher.local.state import RunState
from launcher.local.supervisor import Drill, Supervisor
from tests.job_outcomes import SCENARIOS, STAGGERED_LOSS, Notice


def drills_for(scenario) -> list[Drill]:
    """One spot-notice drill per Notice step, aimed at its index."""
    return [Drill(0.2, index) for index, script in enumerate(scenario.attempts) for step in script
            if isinstance(step, Notice)]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_the_local_runner_ends_as_the_job_controller_does(tmp_path, scenario):
    env = {"SCENARIO": scenario.name, "ATTEMPTS_DIR": str(tmp_path)}
    pod = LocalPod(command=[sys.executable, "-m", "tests.fake_trainer"], env=env, completions=scenario.nodes,
                   backoff_limit=scenario.backoff_limit, grace_seconds=10, deadline_seconds=None)
    state = Supervisor(pod, tmp_path, RunState("run", "hash"), drills_for(scenario), Echo(io.StringIO()),
                       backoff_base=0.05).run()
    expected = scenario.expected
    assert (state.status, state.failures, state.preemptions) == \
        (expected.local_status, expected.failed, expected.preemptions)
    assert state.reason.startswith(expected.reason)


def test_the_local_runner_recreates_staggered_losses_together_after_the_job_wide_back_off(tmp_path):
    base = 2.5  # seconds: the first back-off step, a quarter of the controller's
    loss, scale = STAGGERED_LOSS, base / 10
    env = {"SCENARIO": "staggered", "ATTEMPTS_DIR": str(tmp_path), "BACKOFF_BASE": str(base)}
    pod = LocalPod(command=[sys.executable, "-m", "tests.fake_trainer"], env=env, completions=2,
                   backoff_limit=3, grace_seconds=10, deadline_seconds=None)
    state = Supervisor(pod, tmp_path, RunState("run", "hash"), [], Echo(io.StringIO()), backoff_base=base).run()
    assert (state.status, state.preemptions) == ("Succeeded", 2)
    times = {(i, a): json.loads((tmp_path / f"times-{i}-{a}.json").read_text()) for i in (0, 1) for a in (1, 2)}
    second_loss = times[1, 1]["ended"]
    replaced = [times[i, 2]["started"] - second_loss for i in (0, 1)]
    # One back-off per Job: index 0 is not replaced after its own first step (1 x base after its loss), but
    # with index 1, two steps after the second loss. The tolerance is well under the gap.
    assert replaced == pytest.approx([loss.together_after * scale] * 2, abs=0.6)


def test_replacements_wait_the_controllers_measured_back_off():
    from launcher.local.jobrules import backoff_seconds
    from tests.job_outcomes import REPLACEMENT_DELAYS_SECONDS
    assert tuple(backoff_seconds(n) for n in range(1, len(REPLACEMENT_DELAYS_SECONDS) + 1)) == \
        REPLACEMENT_DELAYS_SECONDS
    assert backoff_seconds(20) == 600  # MaxJobPodFailureBackOff
