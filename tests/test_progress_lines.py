"""The trainer's plain progress lines: what pod logs, CI logs and the local runner's bar read."""

import re

import pytest

from launcher.local.supervisor import STEP
from launcher.schema.contract import STEP_LINE
from launcher.schema.contract import utc_stamp
from trainer.progress import duration, stamped, step_line, validation_line


def test_a_step_line_reads_as_designed_and_parses_back_with_the_contract_regex():
    line = stamped("run-1a2b", step_line(40, 200, 1, 2, 0.51203, 28.64, 125.2), now=1795966201.0)
    assert line == "2026-11-29T15:30:01Z [run-1a2b] reached step 40/200 (epoch 1/2), loss 0.5120, 28.6 samples/s, " \
                   "ETA 2m05s"
    assert re.search(STEP_LINE, line).groupdict() == {"step": "40", "total": "200", "epoch": "1", "epochs": "2",
                                                  "loss": "0.5120", "samples_per_s": "28.6", "eta": "2m05s"}
    assert STEP.search(line).group(1) == "40"  # the local runner's step tracking still reads it


def test_a_step_line_before_any_logged_loss_leaves_the_loss_out():
    line = step_line(5, 10, 1, 1, None, 3.0, 4.4)
    assert line == "reached step 5/10 (epoch 1/1), 3.0 samples/s, ETA 4s"
    assert re.search(STEP_LINE, line).group("loss") is None


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (45.4, "45s"), (59.6, "1m00s"), (125, "2m05s"),
                                           (3599, "59m59s"), (3720, "1h02m"), (90061, "25h01m")])
def test_durations_read_like_a_person_writes_them(seconds, text):
    assert duration(seconds) == text
    assert re.search(STEP_LINE, step_line(1, 2, 1, 1, 0.5, 1.0, seconds)).group("eta") == text


def test_a_validation_line_names_every_metric_in_the_order_logged():
    assert validation_line(100, {"val_loss": 0.41, "val_accuracy": 0.796, "val_f1": 0.761}) == \
        "validation at step 100: val_loss 0.4100, val_accuracy 0.7960, val_f1 0.7610"


def test_timestamps_are_utc_to_the_second():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", utc_stamp())
    assert utc_stamp(0) == "1970-01-01T00:00:00Z"
