"""The retry rules every API call follows (launcher/cluster/retry.py); the calls themselves are retried
through real faults in tests/test_cluster_faults.py."""

import random

import pytest

from launcher.cluster.retry import RetryPolicy, retryable


@pytest.mark.parametrize(("status", "again"), [(None, True), (429, True), (500, True), (503, True), (504, True),
                                                (400, False), (401, False), (403, False), (404, False),
                                                (409, False), (410, False), (422, False)])
def test_only_throttling_server_trouble_and_dropped_connections_are_retried(status, again):
    assert retryable(status) is again


def test_retry_after_is_waited_out_exactly_up_to_its_cap():
    policy = RetryPolicy(retry_after_cap=30)
    assert (policy.delay(1, "1"), policy.delay(5, "2.5"), policy.delay(1, "3600")) == (1.0, 2.5, 30.0)


def test_backoff_is_exponential_with_full_jitter_and_bounded():
    policy, rng = RetryPolicy(base=0.25, cap=8.0), random.Random(7)
    for attempt, ceiling in [(1, 0.25), (2, 0.5), (3, 1.0), (6, 8.0), (20, 8.0)]:
        delays = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= ceiling and max(delays) > ceiling / 2
    assert policy.delay(2, "Wed, 21 Oct 2015 07:28:00 GMT", rng) <= 0.5  # a date falls back to the backoff
