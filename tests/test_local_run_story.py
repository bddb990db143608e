"""A local run tells its own story after the terminal closes: the supervisor's lines with timestamps in
events.log, each pod's start, end, exit code, drill and steps in run.json and `launch status`, plain logs."""

import io
import json
import re
import sys
from pathlib import Path

from launcher.local.echo import Echo
from launcher.local.pod import LocalPod
from launcher.local.state import RunState
from launcher.local.supervisor import Drill, Supervisor
from launcher.local.status import local_status
from launcher.status.table import artifact_lines, history_section, tensorboard_program

RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def story(tmp_path) -> tuple[RunState, str]:
    pod = LocalPod(command=[sys.executable, "-m", "tests.story_trainer"], env={"ATTEMPTS_DIR": str(tmp_path)},
                   completions=1, backoff_limit=0, grace_seconds=10, deadline_seconds=None)
    echoed = io.StringIO()
    state = Supervisor(pod, tmp_path, RunState("story", "hash"), [Drill(0.5, 0)], Echo(echoed),
                       backoff_base=0.05).run()
    return state, echoed.getvalue()


def test_a_drilled_run_keeps_its_story(tmp_path):
    state, echoed = story(tmp_path)
    assert (state.status, state.attempts, state.preemptions) == ("Succeeded", 2, 1)
    history = [{k: r[k] for k in ("index", "attempt", "exit_code", "drill", "resumed_from", "stopped_at")}
               for r in state.history]
    assert history == [
        {"index": 0, "attempt": 1, "exit_code": 75, "drill": "preempt", "resumed_from": 0, "stopped_at": 10},
        {"index": 0, "attempt": 2, "exit_code": 0, "drill": None, "resumed_from": 10, "stopped_at": 20}]
    for record in state.history:
        assert re.fullmatch(RFC3339, record["started"]) and re.fullmatch(RFC3339, record["ended"])
        assert record["started"] <= record["ended"]
    events = (tmp_path / "events.log").read_text().splitlines()
    assert [re.sub(rf"^{RFC3339} ", "", line) for line in events] == [
        "index 0: starting attempt 1",
        "preemption drill: SIGTERM to index 0; SIGKILL after 10 s",
        "index 0 attempt 1 ended: disrupted (exit 75); replacing it (not counted) in 0 s (the Job-wide pod-failure "
        "back-off)",
        "index 0: starting attempt 2",
        "resumed from the checkpoint at step 10: 0 step(s) replayed (the gang had reported step 10)"]
    assert all(re.match(RFC3339, line) for line in events)


def test_saved_and_echoed_output_has_no_escape_sequence_or_redraw(tmp_path):
    _, echoed = story(tmp_path)
    saved = "".join(p.read_text() for p in sorted((tmp_path / "logs").iterdir()))
    for text in (saved, echoed):
        assert "\x1b" not in text and "\r" not in text
    assert "Training:  20%|##| 4/20\n" in saved and "[0] Training:  20%|##| 4/20\n" in echoed
    assert "Training:  10%" not in saved


def test_status_shows_each_pods_history(tmp_path):
    state, _ = story(tmp_path)
    status = local_status(state)
    cells = [re.split(r" {3,}", line) for line in history_section(status).splitlines()]
    assert cells[0] == ["INDEX", "ATTEMPT", "STARTED", "ENDED", "EXIT", "DRILL", "FROM-STEP", "TO-STEP", "OUTCOME"]
    assert [c[:2] + c[4:] for c in cells[1:]] == [["0", "1", "75", "preempt", "0", "10", "preempted: preempt drill"],
                                                 ["0", "2", "0", "-", "10", "20", "Succeeded"]]
    shown = json.loads(json.dumps(status.to_json()))["history"]
    assert [(a["created"], a["finished"]) for a in shown] == [(r["started"], r["ended"]) for r in state.history]


def test_summary_and_status_name_the_metrics_and_tensorboard_folders():
    assert artifact_lines("/ckpt/run/final", "/ckpt/run/logs") == [
        "final model: /ckpt/run/final",
        "metrics history: /ckpt/run/logs/csv/metrics.csv; TensorBoard: tensorboard --logdir /ckpt/run/logs/tensorboard"]
    assert artifact_lines("", "s3://b/p/run/logs") == [
        "metrics history: s3://b/p/run/logs/csv/metrics.csv; TensorBoard: aws s3 sync s3://b/p/run/logs logs && "
        "tensorboard --logdir logs/tensorboard"]


def test_on_a_terminal_rank_0s_steps_move_one_bar_and_other_lines_print_above_it():
    from launcher.local.terminal import TerminalEcho

    stream = io.StringIO()
    echo = TerminalEcho(stream)
    echo.line("[job] index 0: starting attempt 1")
    for step in (20, 40):
        echo.line(f"[0] 2026-11-29T15:30:01Z [run] reached step {step}/200 (epoch 1/2), loss 0.5120, "
                  "28.6 samples/s, ETA 2m05s")
    echo.line("[0] 2026-11-29T15:30:09Z [run] validation at step 40: val_accuracy 0.7960")
    echo.close()
    shown = stream.getvalue()
    assert "reached step" not in shown
    assert shown.index("[job] index 0: starting attempt 1") < shown.index("validation at step 40")
    assert re.search(r"epoch 1/2 .* 40/200 loss 0\.5120 · 28\.6 samples/s · ETA 2m05s", shown)


def test_the_tensorboard_command_runs_as_printed_outside_an_activated_venv(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    program = tensorboard_program()
    assert program == str(Path(sys.executable).parent / "tensorboard") and Path(program).is_file()
    assert artifact_lines("", "/ckpt/run/logs", program)[-1].endswith(
        f"TensorBoard: {program} --logdir /ckpt/run/logs/tensorboard")


def test_a_run_that_never_trained_names_no_folder_that_does_not_exist(tmp_path):
    state = RunState("r", "hash", final_dir=str(tmp_path / "final"), logs_dir=str(tmp_path / "logs"))
    assert (local_status(state).final_dir, local_status(state).logs_dir) == ("", "")
    (tmp_path / "logs").mkdir()
    assert local_status(state).logs_dir == str(tmp_path / "logs")
    assert local_status(RunState("r", "hash", logs_dir="s3://b/p/r/logs")).logs_dir == "s3://b/p/r/logs"
