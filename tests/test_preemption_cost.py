"""What the next preemption of a plain Job will cost, as the Job controller's back-off makes it (pure)."""

from launcher.cluster.backoff import backoff_seconds, duration, next_preemption_waits, preemption_cost_note


def pod(phase: str) -> dict:
    return {"status": {"phase": phase}}


def job(nodes: int, *conditions: str) -> dict:
    return {"spec": {"completions": nodes},
            "status": {"conditions": [{"type": c, "status": "True"} for c in conditions]}}


def test_the_wait_doubles_from_10_s_per_failed_pod_up_to_10_minutes():
    assert [backoff_seconds(n) for n in range(9)] == [0, 10, 20, 40, 80, 160, 320, 600, 600]


def test_losing_the_host_of_a_2_node_gang_four_times_waits_as_measured_on_the_real_controller():
    """Issue 20's measurement (kube-controller-manager v1.37.2): replacements 20, 80, 320 and 599 s after the
    failures; each loss of index 0 fails both pods."""
    assert [next_preemption_waits(2 * k, nodes=2)[1] for k in range(4)] == [20, 80, 320, 600]


def test_an_8_node_gang_waits_the_full_10_minutes_at_its_first_host_loss():
    """Eight failed pods at once: 10 s x 2^7 is past the cap."""
    assert next_preemption_waits(0, nodes=8) == (10, 600)
    assert next_preemption_waits(8, nodes=8) == (600, 600)


def test_status_says_what_the_next_preemption_will_cost_and_where_to_read_why():
    note = preemption_cost_note(job(2), [pod("Failed"), pod("Failed"), pod("Running"), pod("Running")])
    assert note == ("the Job controller will wait 40 s before replacing the next preempted pod (1 min 20 s if it "
                    "is index 0, which takes the gang with it): its back-off counts preemptions too "
                    "(kubernetes/kubernetes#130881); see docs/cluster.md, Preemption cost")


def test_nothing_to_say_before_the_first_failed_pod_or_after_the_end():
    assert preemption_cost_note(job(2), [pod("Running"), pod("Running")]) is None
    assert preemption_cost_note(job(2, "Complete"), [pod("Failed")] * 3) is None


def test_durations_read_like_people_write_them():
    assert [duration(s) for s in (40, 80, 320, 600)] == ["40 s", "1 min 20 s", "5 min 20 s", "10 min"]
