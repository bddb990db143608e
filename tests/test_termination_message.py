"""The termination message: the trainer's one-line report of its exit (outcome, committed step, metrics),
defined in launcher/schema/contract.py and read by launcher/cluster/runstatus.py."""

import json

from launcher.schema import contract
from launcher.schema.contract import parse_termination_message, termination_message
from trainer import main
from trainer.checkpoints.store import LocalStore
from trainer.checkpoints.writer import CheckpointWriter


def test_a_message_round_trips_and_names_its_outcome():
    text = termination_message(75, "requeue: stopped at step 40 on SIGTERM", 40)
    assert json.loads(text)["outcome"] == "requeue" and "\n" not in text
    assert parse_termination_message(text) == {"committed_step": 40, "metrics": {}, "outcome": "requeue",
                                               "summary": "requeue: stopped at step 40 on SIGTERM"}


def test_a_message_always_fits_the_kubelets_4096_bytes():
    text = termination_message(0, "é" * 5000, 9, {f"m{i}": i for i in range(400)})
    assert len(text.encode()) <= contract.TERMINATION_MESSAGE_MAX_BYTES
    parsed = parse_termination_message(text)
    assert parsed["committed_step"] == 9 and parsed["metrics"] == {} and parsed["summary"].startswith("éé")


def test_text_of_another_format_is_kept_as_the_summary():
    assert parse_termination_message("finished: steps=4\n") == {"committed_step": None, "metrics": {},
                                                                "summary": "finished: steps=4", "outcome": None}
    assert parse_termination_message(None)["summary"] == ""
    assert parse_termination_message('{"v": 99}')["committed_step"] is None


def test_the_trainer_writes_its_newest_committed_step_and_metrics_on_exit(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "ckpt" / "run-1" / "checkpoints")
    writer = CheckpointWriter(store, rank=0, world_size=1, keep_last=5, log=print)
    for step in (40, 80):
        writer.submit(step, 0, {"weights": lambda fh, step=step: fh.write(b"w" * step)}, started=0.0)
    writer.flush()
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setattr(contract, "TERMINATION_LOG", str(log))
    monkeypatch.setenv(contract.ENV_RUN_ID, "run-1")
    monkeypatch.setenv(contract.ENV_CHECKPOINT_URI, str(tmp_path / "ckpt"))
    assert main._finish(0, "finished: steps=80", {"test_accuracy": 0.9}) == 0
    assert parse_termination_message(log.read_text()) == {
        "committed_step": 80, "metrics": {"test_accuracy": 0.9}, "summary": "finished: steps=80",
        "outcome": "finished"}


def test_only_local_rank_zero_writes_so_workers_never_tear_the_line(tmp_path, monkeypatch):
    log = tmp_path / "termination-log"
    log.write_text("")
    monkeypatch.setattr(contract, "TERMINATION_LOG", str(log))
    monkeypatch.setenv(contract.ENV_CHECKPOINT_URI, str(tmp_path / "ckpt"))
    monkeypatch.setenv("LOCAL_RANK", "1")
    main._finish(75, "requeue: stopped at step 3 on SIGTERM")
    assert log.read_text() == ""
    monkeypatch.setenv("LOCAL_RANK", "0")
    main._finish(75, "requeue: stopped at step 3 on SIGTERM")
    assert parse_termination_message(log.read_text())["outcome"] == "requeue"
