"""Which failures mean "the gang broke, requeue" and which are crashes. Only these are free of backoffLimit:
retrying a broken NCCL set-up, a port that never frees or a data-volume timeout would loop forever.

Facts (torch 2.13, probed): a collective whose gloo peer died raises RuntimeError "[.../gloo/transport/tcp/
pair.cc] Connection closed by peer ..."; one whose peer hangs or vanished from the network raises
RuntimeError "[.../gloo/transport/tcp/unbound_buffer.cc] Timed out waiting Nms for recv operation";
NCCL raises DistBackendError. Before the group forms, the TCPStore host raises DistStoreError "Timed out
after N seconds waiting for clients" and a client DistNetworkError "The client socket has timed out".
"""

import re

WAITING = "waiting"  # the rendezvous timed out: peers not scheduled yet; not a failure
LOST_PEER = "lost-peer"  # the gang formed, then a collective found a peer gone

GLOO_PEER_GONE = re.compile(r"gloo/transport/.*(Connection (closed|reset) by peer|Timed out waiting \d+ms for "
                            r"(recv|send) operation)", re.DOTALL)


def distributed_failure(exc: BaseException, gang_formed: bool) -> str | None:
    """WAITING, LOST_PEER, or None for anything else (a crash)."""
    from torch.distributed import DistBackendError, DistError, DistNetworkError, DistStoreError

    if not gang_formed:
        timed_out = isinstance(exc, (DistStoreError, DistNetworkError)) and "timed out" in str(exc).lower()
        return WAITING if timed_out else None
    if isinstance(exc, (DistBackendError, DistNetworkError, DistStoreError)) or type(exc) is DistError:
        return LOST_PEER
    return LOST_PEER if isinstance(exc, RuntimeError) and GLOO_PEER_GONE.search(str(exc)) else None
