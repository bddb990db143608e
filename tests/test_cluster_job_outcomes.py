"""The real Job controller's verdict on every scenario of tests/job_outcomes.py (the table the local runner
is held to).

The scenarios run at the same time, each in a namespace of its own: the controller delays every replacement
pod by its failure backoff (10 s, 20 s, ...), and in sequence that would cost minutes.
"""

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cluster.namespaces import create_namespace, delete_namespace
from tests.cluster.scenarios import play
from tests.job_outcomes import SCENARIOS, Scenario

pytestmark = pytest.mark.cluster


def _play_in_own_namespace(kube, index: int, scenario: Scenario):
    namespace = f"outcome-{index}-{secrets.token_hex(3)}"
    api = kube.control_plane.client()  # one client per thread
    create_namespace(api, namespace)
    try:
        return play(api, namespace, scenario)
    finally:
        delete_namespace(api, namespace)


def test_the_real_job_controller_reaches_each_scenarios_outcome(kube):
    with ThreadPoolExecutor(max_workers=len(SCENARIOS)) as pool:
        futures = [pool.submit(_play_in_own_namespace, kube, i, s) for i, s in enumerate(SCENARIOS)]
        observed = {s.name: f.result() for s, f in zip(SCENARIOS, futures)}
    assert observed == {s.name: s.expected for s in SCENARIOS}
