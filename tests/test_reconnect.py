"""Followers ride out API server outages (launcher/cluster/reconnect.py) and re-open a followed log from its
last line, not from the start (follow.LogCursor): the pure rules. Real outages through the fault proxy are in
tests/test_cluster_outages.py."""

import pytest

from launcher.cluster.api import ClusterError, Dropped
from launcher.cluster.follow import LOG_OVERLAP_SECONDS, LogCursor, stamp_key
from launcher.cluster.reconnect import GaveUp, Reconnect
from launcher.cluster.retry import OUTAGE_LIMIT_SECONDS, RECONNECT_BACKOFF


class FakeTime:
    """A monotonic clock that only `sleep` moves."""

    def __init__(self):
        self.now, self.slept = 1000.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def unreachable(*_):
    raise ClusterError("get jobs.batch/r: no answer from the API server", None)


def outage_of(seconds: float, time: FakeTime, answer="job"):
    """A call that gets no answer until `seconds` of the fake clock have passed."""
    ends = time.now + seconds

    def call(*_):
        if time.now < ends:
            raise ClusterError("get jobs.batch/r: no answer from the API server", None)
        return answer
    return call


def test_an_outage_of_ten_minutes_is_ridden_out_with_capped_backoff_and_a_note_per_try():
    time, notes = FakeTime(), []
    outage = Reconnect(notes.append, clock=lambda: time.now, sleep=time.sleep)
    assert outage.call(outage_of(600, time)) == "job"
    assert max(time.slept) <= RECONNECT_BACKOFF.cap and len(time.slept) >= 600 / RECONNECT_BACKOFF.cap
    assert len(notes) == len(time.slept) + 1
    assert all(n.startswith("reconnecting to the API server in ") for n in notes[:-1])
    assert notes[-1].startswith("reconnected to the API server after 6")  # 600 s and a few more


@pytest.mark.parametrize("status", [401, 403, 404, 400, 409, 422])
def test_answers_that_waiting_cannot_change_end_the_follower_at_once(status):
    time, notes = FakeTime(), []
    outage = Reconnect(notes.append, clock=lambda: time.now, sleep=time.sleep)
    refused = ClusterError(f"forbidden ({status})", status)

    def call():
        raise refused
    with pytest.raises(ClusterError) as raised:
        outage.call(call)
    assert raised.value is refused and time.slept == [] and notes == []


def test_throttling_server_errors_and_broken_streams_are_waited_out():
    for exc in (ClusterError("x", 429), ClusterError("x", 503), Dropped("watch of pods: the stream broke off")):
        time = FakeTime()
        outage = Reconnect(lambda _: None, clock=lambda: time.now, sleep=time.sleep)
        outage.failed(exc)
        assert len(time.slept) == 1


def test_the_follower_gives_up_after_the_documented_limit_without_an_answer():
    time, notes = FakeTime(), []
    outage = Reconnect(notes.append, clock=lambda: time.now, sleep=time.sleep)
    with pytest.raises(ClusterError, match=f"stopped following after {OUTAGE_LIMIT_SECONDS} s; the run itself "
                                           "goes on, see `launch status`"):
        outage.call(unreachable)
    assert sum(time.slept) == pytest.approx(OUTAGE_LIMIT_SECONDS)


def test_a_follower_that_gave_up_says_so_once():
    """pod_views hands every ClusterError of a watch to `failed`, the one `call` raised after the limit too."""
    time = FakeTime()
    outage = Reconnect(lambda _: None, limit=60, clock=lambda: time.now, sleep=time.sleep)
    with pytest.raises(GaveUp) as raised:
        outage.call(unreachable)
    with pytest.raises(GaveUp) as again:
        outage.failed(raised.value)
    assert again.value is raised.value and str(again.value).count("has not answered") == 1


def test_each_outage_is_counted_from_its_own_start():
    time = FakeTime()
    outage = Reconnect(lambda _: None, limit=100, clock=lambda: time.now, sleep=time.sleep)
    for _ in range(3):  # three outages of 80 s, each shorter than the limit, 300 s in all
        assert outage.call(outage_of(80, time)) == "job"
        time.now += 20


def line(second: int, text: str, fraction: str = "000000001") -> str:
    return f"2026-04-26T18:35:{second:02d}.{fraction}Z {text}"


def test_a_reopened_log_starts_shortly_before_its_last_line_and_repeats_nothing():
    cursor, clock = LogCursor(), iter([100.0, 101.0, 102.0, 400.0]).__next__
    assert cursor.since_seconds(0.0) is None  # nothing printed yet: the whole log
    first = [line(1, "a"), line(2, "b"), line(2, "c")]  # two lines with the very same timestamp
    assert list(cursor.new_lines(first, clock)) == ["a", "b", "c"]
    assert cursor.since_seconds(102.0 + 120) == 120 + LOG_OVERLAP_SECONDS  # 120 s of silence later
    again = [line(2, "b"), line(2, "c"), line(3, "d")]  # the overlap, then what is new
    assert list(cursor.new_lines(again, clock)) == ["d"]
    assert list(cursor.new_lines([line(2, "c"), line(3, "d")], clock)) == []


def test_lines_written_within_the_same_timestamp_after_a_cut_are_not_lost():
    cursor = LogCursor()
    assert list(cursor.new_lines([line(2, "b")])) == ["b"]
    assert list(cursor.new_lines([line(2, "b"), line(2, "b2"), line(3, "c")])) == ["b2", "c"]


def test_timestamps_compare_as_times_whatever_their_fraction_digits():
    assert stamp_key("2026-04-26T18:35:50.1Z") > stamp_key("2026-04-26T18:35:50.099Z")
    assert stamp_key("2026-04-26T18:35:50Z") < stamp_key("2026-04-26T18:35:50.000000001Z")
    cursor = LogCursor()
    assert list(cursor.new_lines(["2026-04-26T18:35:50.1Z a", "2026-04-26T18:35:50.12Z b"])) == ["a", "b"]
