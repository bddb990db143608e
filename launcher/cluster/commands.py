"""What `launch train|status|list|logs|cancel|resume|doctor` do on a cluster; launcher/cli/app.py parses the
options and calls these. Output: plain tables and lines for people, one JSON document for `-o json` (the same
as YAML for `-o yaml`). Each function returns the process's exit code."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from typing import TYPE_CHECKING

from ..output import document
from ..status.model import RunStatus
from ..status.table import print_list, print_status
from . import doctor, follow, ops, seen
from .api import ClusterError, Kube, connect, context_namespace
from .records import ClusterRecord
from .runstatus import QUEUE_LABEL, run_status

if TYPE_CHECKING:  # status, list, logs and doctor build no config model (launch status stays fast)
    from ..config.loading import Run

Say = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """Where to act: --namespace (default: the context's namespace, then "default"), --context,
    --kubeconfig; `runs_root`: where this machine keeps cluster records (launcher/cluster/records.py)."""

    namespace: str | None = None
    context: str | None = None
    kubeconfig: Path | None = None
    runs_root: Path = Path("runs")

    def namespace_for(self, configured: str | None = None) -> str:
        """--namespace, else the config's `configured` one, else the context's, else "default"."""
        return self.namespace or configured or self.context_namespace or "default"

    @cached_property
    def context_namespace(self) -> str | None:
        """The kubeconfig context's namespace, read once per command (hints and errors ask again)."""
        return context_namespace(self.kubeconfig, self.context)

    def kube(self, configured: str | None = None, recorded: bool = False) -> Kube:
        return Kube(connect(self.kubeconfig, self.context), self.namespace_for(configured),
                    namespace_from=self.namespace_source(configured, recorded))

    def namespace_source(self, configured: str | None, recorded: bool = False) -> str:
        """Where namespace_for's answer comes from, in words for an error."""
        if self.namespace:
            return "-n/--namespace"
        if configured:
            return "this machine's record of the run" if recorded else "the config's `namespace:`"
        return "the kubeconfig context" if self.context_namespace else "the default"

    def kube_for_run(self, run_id: str) -> Kube:
        """For a command given a run id: --namespace, else the namespace this machine submitted the run to
        (its record, launcher/cluster/records.py), else the context's, else "default"."""
        record = ClusterRecord.load(self.runs_root, run_id) if not self.namespace else None
        return self.kube(record.namespace if record else None, recorded=record is not None)

    def hint_namespace(self, namespace: str) -> str:
        """` -n NS` for a printed command when NS is not where the same command would look by itself."""
        return "" if namespace == self.namespace_for() else f" -n {namespace}"


def _structured(output: str) -> bool:
    return output in ("json", "yaml")


def train(target: Target, run: "Run", dry_run: str, wait: bool, output: str, say: Say) -> int:
    """Submit (or check with `dry_run`), optionally follow to the end; 0 unless --wait saw it fail."""
    from ..render.manifests import render

    objects = render(run.experiment, run.run_id)
    if dry_run == "client":
        say(document({"dry_run": "client", "objects": objects}, output) if _structured(output) else
            f"dry run (client): would create {', '.join(o['kind'] + '/' + o['metadata']['name'] for o in objects)}"
            f" in namespace {target.namespace_for(run.experiment.namespace)}")
        return 0
    kube = target.kube(run.experiment.namespace)
    submitted = ops.submit_run(kube, run.run_id, objects, target.runs_root, dry_run)
    status = ops.read_status(kube, run.run_id) if submitted.existed else run_status(submitted.job, [])
    if wait and not dry_run:
        status = follow.wait_run(kube, run.run_id, say if not _structured(output) else lambda _: None)
        ops.note_end(status, target.runs_root)
    verb = "already submitted:" if submitted.existed else "server dry run passed for" if dry_run else "submitted"
    say(document({**status.to_json(), "created": submitted.created, "existed": submitted.existed,
                  "dry_run": dry_run}, output) if _structured(output) else
        f"{verb} run {run.run_id} in namespace {kube.namespace} ({status.status})" + ("" if dry_run else
        f"; follow it with `launch logs {run.run_id} -f{target.hint_namespace(kube.namespace)}`, check it with "
        f"`launch status {run.run_id}{target.hint_namespace(kube.namespace)}`"))
    return 0 if not wait or status.status == "Succeeded" else 1


def status(target: Target, run_id: str, output: str, say: Say) -> int:
    """`launch status RUN`: the run's table, or its RunStatus as JSON. ClusterError if there is no such run."""
    kube = target.kube_for_run(run_id)
    found = observed_status(kube, run_id, target.runs_root)
    if found is None:
        raise ClusterError(f"no run {run_id!r} in namespace {kube.namespace!r} (see `launch list`)")
    print_status(found, output, say)
    return 0


def observed_status(kube: Kube, run_id: str, runs_root: Path) -> RunStatus | None:
    """The run's status (see `seen_status`); None when there is no such run."""
    job = kube.job(run_id)
    if job is None:
        return ops.read_status(kube, run_id, runs_root)
    found = seen_status(job, kube.pods(ops.run_selector(run_id)), runs_root)
    ops.note_end(found, runs_root)  # how it ended outlives the Job (ttlSecondsAfterFinished)
    return found


def seen_status(job: dict, pods: list[dict], runs_root: Path) -> RunStatus:
    """The run's status with the attempts this machine saw before (seen.py), which it then keeps: pods that
    are gone stay in the history with their numbers, so counts never go down (kubernetes#81285)."""
    run_id, uid = job["metadata"]["name"], job["metadata"].get("uid", "")
    found = run_status(job, pods, time.time(), seen.load(runs_root, run_id, uid))
    seen.save(runs_root, run_id, uid, found.history)
    return found


def list_runs(target: Target, output: str, say: Say) -> int:
    """`launch list`: every launch-managed run of the namespace, newest last."""
    kube = target.kube()
    print_list(ops.list_statuses(kube), output, say, f"No runs found in namespace {kube.namespace}.")
    return 0


def logs(target: Target, run_id: str, index: int, attempt: int | None, tail: int | None, follow_: bool,
         say: Say, note: Say) -> int:
    """`launch logs`: one attempt's log (`attempt` None: the newest) to `say`, or with `follow_` every attempt
    of the index in turn, with the lines between attempts to `note` (stderr)."""
    kube = target.kube_for_run(run_id)
    job = kube.job(run_id)
    if job is None:
        raise ClusterError(f"no run {run_id!r} in namespace {kube.namespace!r} (see `launch list`)")
    if not 0 <= index < (completions := int(job["spec"].get("completions") or 1)):
        raise ClusterError(f"--index {index}: run {run_id} has indexes 0 to {completions - 1}")
    if follow_:
        follow.LogFollower(kube, run_id, index, say, note).run()
        return 0
    pods = kube.pods(ops.run_selector(run_id))
    for line in follow.read_log(kube, _attempt_pod(seen_status(job, pods, target.runs_root), pods, index, attempt),
                                tail):
        say(line)
    return 0


def _attempt_pod(found: RunStatus, pods: list[dict], index: int, attempt: int | None) -> dict:
    """The pod of attempt `attempt` (None: the newest) of an index, numbered as `launch status` numbers them;
    ClusterError if there is no such attempt, or its pod object (and with it its log) is gone."""
    mine = found.attempts_of(index)
    chosen = mine[-1] if mine and attempt is None else next((a for a in mine if a.attempt == attempt), None)
    if chosen is None:
        have = f"attempts 1 to {mine[-1].attempt}" if mine else "no pod yet"
        raise ClusterError(f"index {index} has {have}" + (f"; no attempt {attempt}" if attempt else ""))
    if chosen.gone:
        raise ClusterError(f"index {index} attempt {chosen.attempt}: its pod {chosen.pod} no longer exists "
                           f"({chosen.ended or chosen.state}), and its log went with it")
    return next(p for p in pods if p["metadata"]["name"] == chosen.pod)


def cancel(target: Target, run_id: str, output: str, say: Say) -> int:
    """`launch cancel`: delete the run's objects (foreground), keep its checkpoints, say how to resume."""
    kube = target.kube_for_run(run_id)
    before = ops.cancel(kube, run_id, target.runs_root)
    step = f" (last committed step {before.committed_step})" if before.committed_step is not None else ""
    say(document({**before.to_json(), "status": "Cancelled"}, output) if _structured(output) else
        f"cancelled run {run_id}: its Job, pods, ConfigMap and Service are deleted; its checkpoints are kept"
        f"{step}. Bring it back with `launch resume {run_id}{target.hint_namespace(kube.namespace)}`")
    return 0


def resume(target: Target, run_id: str, output: str, say: Say) -> int:
    """`launch resume`: re-submit a Failed, Cancelled or Gone run under its run id, or complete a cut-off
    submission; leave any other alone."""
    before, submitted = ops.resume(target.kube_for_run(run_id), run_id, target.runs_root)
    if submitted is None:
        say(document(before.to_json(), output) if _structured(output) else
            f"run {run_id} is {before.status}: nothing to resume (only Failed, Cancelled or Gone runs are)")
        return 0
    status = run_status(submitted.job, [])
    was = before.status if before else "gone"
    say(document(status.to_json(), output) if _structured(output) else
        f"resumed run {run_id} (was {was}): the trainer continues from its newest valid checkpoint")
    return 0


def diagnose(target: Target, run_id: str, output: str, say: Say) -> int:
    """`launch doctor`: 0 when nothing is wrong, 1 when a finding is a problem."""
    kube = target.kube_for_run(run_id)
    job = kube.job(run_id)
    if job is None:
        raise ClusterError(f"no run {run_id!r} in namespace {kube.namespace!r} (see `launch list`)")
    pods = kube.pods(ops.run_selector(run_id))
    queued = (job.get("spec") or {}).get("suspend") and QUEUE_LABEL in (job["metadata"].get("labels") or {})
    workloads = kube.workloads(job["metadata"]["uid"]) if queued else None
    findings = doctor.diagnose(job, pods, kube.events(), _crash_logs(kube, pods), workloads, time.time(),
                               _nodes_of_deleted(kube, pods))
    if _structured(output):
        say(document([f.__dict__ for f in findings], output))
    else:
        for f in findings:
            say(f"{'problem' if f.problem else 'ok'}: {f.what}" + (f" [{f.pod}]" if f.pod else ""))
            for line in ([f"  fix: {f.fix}"] if f.fix else []) + [f"  | {e}" for e in f.evidence.splitlines()]:
                say(line)
    return 1 if any(f.problem for f in findings) else 0


def _nodes_of_deleted(kube: Kube, pods: list[dict]) -> dict[str, dict]:
    """The Nodes of the pods being deleted (one call each; usually none), to tell a stopping pod from one
    stuck on a node that is down. Nodes are cluster-wide, so the launcher Role cannot read them: doctor then
    judges by time alone (runstatus.is_stuck)."""
    names = {(p.get("spec") or {}).get("nodeName") for p in pods if p["metadata"].get("deletionTimestamp")}
    nodes = {}
    for name in sorted(n for n in names if n):
        try:
            if node := kube.node(name):
                nodes[name] = node
        except ClusterError as exc:
            if exc.status != 403:
                raise
    return nodes


def _crash_logs(kube: Kube, pods: list[dict]) -> dict[str, list[str]]:
    """The last lines of each index's newest crashed pod (one call per crashed index, at most)."""
    out = {}
    for pod in doctor.last_failed(pods):
        done = doctor.terminated(pod)
        if done and done.get("reason") != "OOMKilled" and not doctor.is_preempted(pod):
            try:
                out[pod["metadata"]["name"]] = list(follow.read_log(kube, pod, 20))
            except ClusterError as exc:
                out[pod["metadata"]["name"]] = [f"(log unavailable: {exc})"]
    return out
