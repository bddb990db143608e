"""The real Job controller's verdict on every scenario of tests/job_outcomes.py (the table the local runner
is held to).

The scenarios run at the same time, each in a namespace of its own: the controller delays every replacement
pod by its failure backoff (10 s, 20 s, ...), and in sequence that would cost minutes.
"""

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.cluster.namespaces import create_namespace, delete_namespace
from tests.cluster.scenarios import play, play_staggered
from tests.job_outcomes import REPLACEMENT_DELAYS_SECONDS, SCENARIOS, STAGGERED_LOSS, Scenario

pytestmark = pytest.mark.cluster


def _play_in_own_namespace(kube, index: int, scenario: Scenario, stop: threading.Event):
    namespace = f"outcome-{index}-{secrets.token_hex(3)}"
    api = kube.control_plane.client()  # one client per thread
    create_namespace(api, namespace)
    try:
        return play(api, namespace, scenario, stop=stop)
    finally:
        delete_namespace(api, namespace)


def test_the_real_job_controller_reaches_each_scenarios_outcome(kube):
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=len(SCENARIOS))
    try:
        futures = [pool.submit(_play_in_own_namespace, kube, i, s, stop) for i, s in enumerate(SCENARIOS)]
        played = {s.name: f.result() for s, f in zip(SCENARIOS, futures)}
    finally:
        stop.set()  # on Ctrl-C, do not wait minutes for the other scenarios to play out
        pool.shutdown(cancel_futures=True)
    assert {name: p.outcome for name, p in played.items()} == {s.name: s.expected for s in SCENARIOS}
    # With one index every failure is one more in a row (with several, another index's success resets it).
    delays = {(s.name, n): d for s in SCENARIOS if s.nodes == 1 for n, d in enumerate(played[s.name].delays)}
    assert delays == pytest.approx({key: REPLACEMENT_DELAYS_SECONDS[key[1]] for key in delays}, abs=3)
    assert max(n for _, n in delays) >= 1, "no scenario measured a second delay"


def test_the_real_job_controllers_back_off_is_job_wide(kube, namespace):
    """The local runner is held to STAGGERED_LOSS too (tests/test_local_job_outcomes.py)."""
    replaced = play_staggered(kube.control_plane.client(), namespace, STAGGERED_LOSS)
    assert replaced == pytest.approx([STAGGERED_LOSS.together_after] * 2, abs=3)
