"""The pod's process when the gang spans processes: torch's elastic agent, as torchrun runs it.

Every pod runs one agent; the agents meet in a c10d rendezvous hosted by index 0's agent at
MASTER_ADDR:MASTER_PORT, and each starts NPROC_PER_NODE workers (`python -m trainer` again, now with
torch's worker environment: RANK, WORLD_SIZE, LOCAL_RANK, GROUP_RANK and a MASTER_ADDR:MASTER_PORT chosen
afresh for each round). When a peer vanishes, the survivors' workers leave their collective (exit 75), the
agent re-forms the gang in the next rendezvous round, which the replacement pod joins; a rank of an old
round can never pair with one of a new round (each round has its own worker store). Torch's documentation:
https://docs.pytorch.org/docs/stable/elastic/agent.html and .../elastic/rendezvous.html.

Outcomes map onto the Job's exit codes: workers that finished -> 0; a bad config in any worker -> 2; a
requeue, a SIGTERM, a rendezvous that did not fill in time or lost its host -> 75; a host that index 0 is
hosting but this pod cannot even connect to, UNREACHABLE_LIMIT attempts in a row (trainer/rendezvous.py) ->
the crash code, with a line "error: cannot connect to the rendezvous host HOST:PORT: ..."; a worker killed
by SIGABRT while the others only stopped (NCCL's watchdog after a lost peer, see `aborted`) -> 75, counted
toward checkpoint.max_requeues_without_progress; anything else -> the crash code, for backoffLimit to count.
"""

import logging
import os
import signal
import sys
import threading
import time
from typing import Callable

import psutil
from torch.distributed import DistError
from torch.distributed.elastic.agent.server.api import RunResult, WorkerSpec
from torch.distributed.elastic.agent.server.local_elastic_agent import LocalElasticAgent
from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
from torch.distributed.elastic.multiprocessing.api import SignalException
from torch.distributed.elastic.rendezvous import RendezvousParameters
from torch.distributed.elastic.rendezvous import registry as rendezvous_registry
from torch.distributed.elastic.rendezvous.api import RendezvousError, RendezvousTimeoutError

from launcher.schema import EXIT_BAD_CONFIG, EXIT_CRASH, EXIT_OK, EXIT_REQUEUE, Experiment

from .checkpoints.store import Store, StoreError
from .checkpoints.uri import open_store
from .env import Cluster
from .rendezvous import HOST_BEAT_SECONDS, HostUnreachable, beat_host, count_unreachable, reached_host

# In-place re-forms after a lost peer. Loops without progress are bounded by the workers' own count
# (checkpoint.max_requeues_without_progress), which exits 1 and so ends the agent too.
MAX_REFORMS = 100
STOP_WORKERS_SECONDS = 10  # a worker stopped for a re-form has lost a peer: it has nothing to commit
# How long an agent whose workers finished waits for the other agents (torch: 300 s). The workers of a gang
# finish together (they leave the process group together), so this only covers agents slow to exit.
EXIT_BARRIER_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 60  # torch's read_timeout for the c10d rendezvous store


class TrainerAgent(LocalElasticAgent):
    """torch's local elastic agent with changes for Job semantics: only the requeue code re-forms the gang
    in place (a bad config or a crash ends the pod with its code, for the Job to judge), and SIGTERM is
    ours: torch raises an exception from its handler, which parts of the agent catch and swallow (a pod
    then re-forms instead of stopping). Here SIGTERM goes on to the workers, which commit and exit with
    the requeue code, and the agent then ends instead of re-forming; they get the pod's whole grace
    period, not torch's 30 s."""

    def __init__(self, spec: WorkerSpec, grace_seconds: int):
        super().__init__(spec, DefaultLogsSpecs(), start_method="spawn", shutdown_timeout=grace_seconds,
                         exit_barrier_timeout=EXIT_BARRIER_SECONDS)
        self.grace_seconds = grace_seconds
        self.stop_signal: int | None = None

    def request_stop(self, signum, frame) -> None:
        """The SIGTERM / SIGINT handler. With no worker running (during a rendezvous) it stops at once."""
        self.stop_signal = signum
        workers = psutil.Process().children()
        if not workers:
            _stop(signum, frame)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)

    def _rendezvous(self, worker_group) -> None:
        """Never (re-)form once stopping: a signal raised inside torch's rendezvous may be swallowed there."""
        self._raise_if_stopping()
        super()._rendezvous(worker_group)
        self._raise_if_stopping()

    def _start_workers(self, worker_group):
        self._raise_if_stopping()
        return super()._start_workers(worker_group)

    def _raise_if_stopping(self) -> None:
        if self.stop_signal:
            raise SignalException(f"stopping on signal {self.stop_signal}", sigval=signal.Signals(self.stop_signal))

    def _monitor_workers(self, worker_group) -> RunResult:
        result = super()._monitor_workers(worker_group)
        codes = [f.exitcode for f in result.failures.values()]
        if result.is_failed() and (self.stop_signal or any(code != EXIT_REQUEUE for code in codes)):
            self._remaining_restarts = 0
        return result

    def _stop_workers(self, worker_group) -> None:
        super()._shutdown(signal.SIGTERM, STOP_WORKERS_SECONDS)

    def _shutdown(self, death_sig: signal.Signals = signal.SIGTERM, timeout: int = 30) -> None:
        super()._shutdown(death_sig, max(timeout, self.grace_seconds))


def run_agent(exp: Experiment, cluster: Cluster, argv: list[str], finished: Callable[[], bool]) -> int:
    """Run this pod's workers until the gang finishes or this pod must end; returns the exit code.
    `finished()`: whether the run's final model is committed (a SIGTERM after that is not a requeue)."""
    _quiet_torch_elastic()
    # Each round's workers get a store of their own on a fresh port: with the store shared across rounds
    # (torch's default since 2.5), a node that joins a later round waits forever for keys the old rank 0
    # never writes again (https://github.com/pytorch/pytorch/issues/135712), and a round's workers
    # could meet keys of the one before.
    os.environ["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"] = "1"
    os.environ["TORCHELASTIC_SIGNALS_TO_HANDLE"] = "SIGHUP,SIGQUIT"  # SIGTERM and SIGINT are ours
    signal.signal(signal.SIGTERM, _stop)  # while the rendezvous handler connects
    signal.signal(signal.SIGINT, _stop)
    records = open_store(cluster.checkpoint_uri, cluster.run_id)  # where requeues are counted
    try:
        spec = worker_spec(exp, cluster, argv)
    except RendezvousError as exc:
        if cluster.node_rank == 0:  # the host cannot serve the rendezvous: retrying the same port cannot help
            return _say(EXIT_CRASH, f"error: cannot host the rendezvous on {cluster.master_addr}:"
                                    f"{cluster.master_port}: {_first_line(exc.__cause__ or exc)}")
        return _unreachable(records, cluster, _first_line(exc.__cause__ or exc))
    _record_reached(records, cluster)
    try:
        agent = TrainerAgent(spec, exp.job.grace_period_seconds)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, agent.request_stop)
        result = agent.run()
    except SignalException as exc:
        return _stopped(signal.Signals(exc.sigval), finished())
    except RendezvousTimeoutError:
        return _say(EXIT_REQUEUE, f"requeue: the gang of {cluster.nnodes} did not form within "
                                  f"{exp.job.peer_timeout_seconds} s (a peer not scheduled yet?)")
    except (RendezvousError, DistError) as exc:  # the rendezvous host (index 0) is gone or unreachable
        return _say(EXIT_REQUEUE, f"requeue: lost the rendezvous ({type(exc).__name__}: {_first_line(exc)})")
    if agent.stop_signal and result.is_failed():
        return _stopped(signal.Signals(agent.stop_signal), finished())
    if result.is_failed() and aborted(result):
        return _aborted(records, exp, cluster.node_rank)
    return EXIT_OK if not result.is_failed() else workers_exit_code(result)


def _unreachable(records: Store, cluster: Cluster, cause: str) -> int:
    """This pod could not connect to the rendezvous host: a requeue, or a crash once that happened
    UNREACHABLE_LIMIT times in a row while index 0 was hosting it (trainer/rendezvous.py)."""
    endpoint = f"{cluster.master_addr}:{cluster.master_port}"
    try:
        return _say(EXIT_REQUEUE, "requeue: " + count_unreachable(records, cluster.node_rank, endpoint, cause,
                                                                  time.time()))
    except HostUnreachable as exc:
        return _say(EXIT_CRASH, f"error: {exc}")
    except (StoreError, OSError, ValueError) as exc:  # the count is lost, not the requeue
        return _say(EXIT_REQUEUE, f"requeue: cannot reach the rendezvous host {endpoint} ({cause}); "
                                  f"not counted: {exc}")


def _record_reached(records: Store, cluster: Cluster) -> None:
    """Index 0 beats the host record while it hosts; another index ends its row of unreachable attempts."""
    try:
        if cluster.node_rank:
            reached_host(records, cluster.node_rank)
            return
        endpoint = f"{cluster.master_addr}:{cluster.master_port}"
        beat_host(records, endpoint, time.time())
    except (StoreError, OSError, ValueError) as exc:
        print(f"warning: could not record the rendezvous host: {exc}", file=sys.stderr, flush=True)
        return
    threading.Thread(target=_beat, args=(records, endpoint), daemon=True).start()


def _beat(records: Store, endpoint: str) -> None:
    """Keep the host record fresh for the agent's life (the process ends with it)."""
    while True:
        time.sleep(HOST_BEAT_SECONDS)
        try:
            beat_host(records, endpoint, time.time())
        except (StoreError, OSError, ValueError):
            pass  # a missed beat: the next one may land; a stale record only makes waiting free


def _stopped(signum: signal.Signals, finished: bool) -> int:
    if finished:
        return _say(EXIT_OK, "finished: stopped after the final model was committed")
    return _say(EXIT_REQUEUE, f"requeue: stopped by {signum.name}")


def worker_spec(exp: Experiment, cluster: Cluster, argv: list[str]) -> WorkerSpec:
    """NPROC_PER_NODE workers running `python -m trainer ARGV`, in a c10d rendezvous of NNODES agents."""
    loopback = cluster.master_addr.startswith("127.") or cluster.master_addr == "localhost"
    params = RendezvousParameters(
        backend="c10d", endpoint=f"{cluster.master_addr}:{cluster.master_port}", run_id=cluster.run_id,
        min_nodes=cluster.nnodes, max_nodes=cluster.nnodes,
        local_addr="127.0.0.1" if loopback else None,  # else the pod's FQDN, which the headless Service resolves
        is_host=cluster.node_rank == 0, join_timeout=exp.job.peer_timeout_seconds,
        # How long one try to reach the host's store lasts (torch: 60 s, and two tries), bounded by how long
        # the pod waits for a peer anyway.
        read_timeout=min(CONNECT_TIMEOUT_SECONDS, exp.job.peer_timeout_seconds))
    return WorkerSpec(role="trainer", local_world_size=cluster.nproc_per_node, entrypoint=sys.executable,
                      args=("-m", "trainer", *argv), rdzv_handler=rendezvous_registry.get_rendezvous_handler(params),
                      max_restarts=MAX_REFORMS, monitor_interval=0.5, local_addr=params.local_addr)


def workers_exit_code(result: RunResult) -> int:
    """The pod's exit code from its failed workers' codes (a signal shows as a negative code)."""
    codes = [failure.exitcode for failure in result.failures.values()]
    if EXIT_BAD_CONFIG in codes:
        return EXIT_BAD_CONFIG
    if all(code in (EXIT_REQUEUE, -signal.SIGTERM, -signal.SIGKILL) for code in codes):
        return EXIT_REQUEUE
    return next((code for code in codes if 0 < code < 256 and code != EXIT_REQUEUE), EXIT_CRASH)


def aborted(result: RunResult) -> bool:
    """Whether a worker died by SIGABRT and the others only stopped or requeued. On GPUs torch's agent starts
    workers with TORCH_NCCL_ASYNC_ERROR_HANDLING=1 (local_elastic_agent.py, _start_workers), and with it NCCL's
    watchdog aborts the process (SIGABRT) whose collective failed or timed out, as when a peer vanished,
    instead of raising in Python where trainer/failures.py would call it a lost peer."""
    codes = [failure.exitcode for failure in result.failures.values()]
    return -signal.SIGABRT in codes and all(
        code in (EXIT_REQUEUE, -signal.SIGTERM, -signal.SIGKILL, -signal.SIGABRT) for code in codes)


def _aborted(records: Store, exp: Experiment, node_rank: int) -> int:
    """A worker aborted (see `aborted`): a requeue, as a lost peer is, but counted as one toward
    checkpoint.max_requeues_without_progress (progress: a newer committed checkpoint than at the last
    counted requeue), so a pod that aborts for a fault of its own (a bad GPU) stops with a crash code
    instead of requeuing for free forever."""
    from .checkpoints.catalog import entries, read_json
    from .requeue import REQUEUES, RequeueLoop, count_requeue

    try:
        last = read_json(records, REQUEUES, {}).get("step", 0)
        newest = next((e.step for e in entries(records) if e.valid), 0)
        count_requeue(records, exp, last, newest, node_rank)  # index 0's agent keeps the count
    except RequeueLoop as exc:
        return _say(EXIT_CRASH, f"error: {exc}")
    except (StoreError, OSError, ValueError) as exc:
        return _say(EXIT_CRASH, f"error: a worker aborted (SIGABRT) and the requeue could not be counted: {exc}")
    return _say(EXIT_REQUEUE, "requeue: a worker aborted (SIGABRT), as NCCL's watchdog does when a peer is lost")


def _stop(signum, frame) -> None:
    raise SignalException(f"Process {signum} got signal", sigval=signal.Signals(signum))


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [""])[0][:200]


def _say(code: int, summary: str) -> int:
    print(summary, file=sys.stderr, flush=True)
    return code


def _quiet_torch_elastic() -> None:
    """torch's agent logs every rendezvous step at INFO; keep warnings (restarts, lost peers) and errors."""
    level = os.environ.get("KUBETRAIN_AGENT_LOG_LEVEL", "WARNING")  # INFO shows every rendezvous step
    logging.basicConfig(format="[agent] %(message)s", level=level)
    logging.getLogger("torch.distributed.elastic").setLevel(level)
    # When the agent hosting the store has passed the exit barrier it exits, and the others' wait on the
    # barrier then fails with a traceback, after every worker finished: noise, not news.
    logging.getLogger("torch.distributed.elastic.agent.server.api").addFilter(
        lambda record: not record.getMessage().startswith("Error waiting on exit barrier"))
    # A worker that exits with the requeue code (a spot notice or a lost peer) is expected, and it says so
    # itself; torch logs every worker exit as an error.
    logging.getLogger("torch.distributed.elastic.multiprocessing.api").addFilter(
        lambda record: not record.getMessage().startswith(f"failed (exitcode: {EXIT_REQUEUE})"))
