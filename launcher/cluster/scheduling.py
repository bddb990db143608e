"""Pure: the scheduler's "0/N nodes are available: ..." message in plain words, with the fix.

Format (k/k pkg/scheduler/framework/types.go FitError.Error, 1.28+; shared/reference/kubernetes-run-status.md
3.1): `0/N nodes are available: <prefilter msg>. ` or `<count> <reason>, ...` sorted, then
` preemption: <another FitError>.`; real messages often end in "..". Older forms are parsed too.
"""

import re

_COUNTED = re.compile(r"^(\d+) (.*)$")
_HEAD = re.compile(r"^0/(\d+) nodes are available:?\s*")
_TAINT = re.compile(r"\{([^:}]+): ?([^}]*)\}")


def parse_fit_error(message: str) -> tuple[int | None, dict[str, int], str]:
    """(node count, {reason: nodes}, prefilter message) of a FailedScheduling message; a message of another
    shape gives (None, {}, message)."""
    head = _HEAD.match(message)
    if not head:
        return None, {}, message
    body = message[head.end():].split(" preemption: ")[0].strip().rstrip(".")
    reasons, prefilter = {}, ""
    for part in body.split(", "):
        if counted := _COUNTED.match(part.strip()):
            reasons[counted.group(2).rstrip(".")] = int(counted.group(1))
        elif part.strip():
            prefilter = part.strip()
    return int(head.group(1)), reasons, prefilter


def explain_reason(reason: str) -> str:
    """One filter reason in plain words, with what to change."""
    if reason.startswith("Insufficient "):
        resource = reason.removeprefix("Insufficient ")
        return (f"not enough free {resource}: lower resources (nodes, gpus_per_node, the MIG or shared-GPU "
                f"profile), or wait for capacity (a cluster autoscaler adds nodes for pending pods)")
    if "untolerated taint" in reason or "didn't tolerate" in reason:
        taint = _TAINT.search(reason)  # 1.3x schedulers say only "had untolerated taint(s)"
        what = f"the taint {taint.group(1)}={taint.group(2)}" if taint else "the nodes' taint(s)"
        return (f"the pods do not tolerate {what}: set scheduling.spot to that pool's provider preset, or add "
                f"a toleration in scheduling.tolerations (kubectl describe node shows the taints)")
    if "node affinity/selector" in reason or "didn't match node selector" in reason:
        return ("no node matches the pods' node selector or affinity: check resources.gpu.product and "
                "scheduling.node_selector against the nodes' labels (kubectl get nodes --show-labels)")
    if "were unschedulable" in reason:
        return "the nodes are cordoned (unschedulable): uncordon them or add nodes"
    if "Too many pods" in reason:
        return "the nodes are at their pod limit"
    return explain_prefilter(reason)


def explain_prefilter(message: str) -> str:
    """A prefilter failure (volumes) in plain words."""
    if missing := re.search(r'persistentvolumeclaim "([^"]+)" not found', message):
        return (f"the claim {missing.group(1)} does not exist in the namespace: create it (manifests/volumes.yaml) "
                f"or fix storage.*.claim")
    if "unbound immediate PersistentVolumeClaims" in message:
        return ("a volume claim is not bound: no PersistentVolume or StorageClass can provide it "
                "(kubectl describe pvc)")
    return message


def explain(message: str) -> list[str]:
    """Every reason of a FailedScheduling / Unschedulable message, one line each ("<n> node(s): ...")."""
    total, reasons, prefilter = parse_fit_error(message)
    lines = [explain_prefilter(prefilter)] if prefilter else []
    lines += [f"{count} node(s): {explain_reason(reason)}" for reason, count in sorted(reasons.items())]
    return lines or [message]
