"""How the elastic agent maps its workers' ends to the pod's exit code when a worker dies by a signal
(issue 22 #12a): NCCL's watchdog aborts a worker whose peer vanished (SIGABRT), which is a requeue, counted
toward checkpoint.max_requeues_without_progress so a pod that aborts on its own cannot loop for free."""

import signal

import pytest
from torch.distributed.elastic.agent.server.api import RunResult, WorkerState
from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

from launcher.schema import Experiment
from tests.factory import raw_config
from trainer.agent import _aborted, aborted
from trainer.checkpoints.uri import open_store


def result(*codes: int) -> RunResult:
    failures = {rank: ProcessFailure(local_rank=rank, pid=1000 + rank, exitcode=code, error_file="")
                for rank, code in enumerate(codes)}
    return RunResult(state=WorkerState.FAILED, failures=failures)


@pytest.mark.parametrize("codes, expected", [
    ((-signal.SIGABRT,), True),
    ((-signal.SIGABRT, -signal.SIGTERM, 75), True),  # the others were stopped or requeued
    ((-signal.SIGABRT, 1), False),  # a crash of its own in another worker stays a crash
    ((-signal.SIGSEGV,), False),
    ((75,), False),
])
def test_a_worker_aborted_after_a_peer_loss_is_told_apart_from_a_crash(codes, expected):
    assert aborted(result(*codes)) is expected


def test_aborts_requeue_until_max_requeues_without_progress_then_crash(tmp_path, capsys):
    exp = Experiment.model_validate(raw_config(checkpoint={"max_requeues_without_progress": 2}))
    records = open_store(str(tmp_path), "run")
    assert _aborted(records, exp, node_rank=0) == 75
    assert "requeue: a worker aborted (SIGABRT)" in capsys.readouterr().err
    assert _aborted(records, exp, node_rank=0) == 1
    assert "error: requeued 2 times in a row at step 0 without a new checkpoint" in capsys.readouterr().err
