"""An unreachable rendezvous host is a crash, not a free requeue forever (issue 22 #5); a host not up yet is
waited for. The records live in the run's checkpoint store, which every pod reaches whatever the network
between pods does. Torch-free: the elastic agent reads it before any worker starts."""

import json

from .checkpoints.catalog import read_json
from .checkpoints.store import Store

# Index 0's agent, once it hosts the rendezvous, beats
# HOST_RECORD in the store every HOST_BEAT_SECONDS; another index that cannot even connect to it while that
# beat is fresh counts the attempt in its own record, and UNREACHABLE_LIMIT attempts in a row are a crash.
# Without a fresh beat, index 0 is not running yet (not scheduled, pulling its image): waiting is free.
HOST_RECORD = "rendezvous-host.json"
HOST_BEAT_SECONDS = 15
HOST_FRESH_SECONDS = 3 * HOST_BEAT_SECONDS
UNREACHABLE_LIMIT = 3


class HostUnreachable(Exception):
    """Index 0 hosts the rendezvous, yet this pod could not connect to it UNREACHABLE_LIMIT attempts in a row:
    a missing Service, a NetworkPolicy on the port or broken DNS, which no retry fixes."""


def beat_host(store: Store, endpoint: str, now: float) -> None:
    """Index 0's agent hosts the rendezvous at `endpoint` ("host:port") at `now` (epoch seconds)."""
    store.write("", HOST_RECORD, json.dumps({"endpoint": endpoint, "beat": now}).encode())


def host_is_up(store: Store, now: float) -> bool:
    """Whether index 0's agent beat within HOST_FRESH_SECONDS of `now`."""
    beat = read_json(store, HOST_RECORD, {}).get("beat")
    return beat is not None and now - beat <= HOST_FRESH_SECONDS


def count_unreachable(store: Store, node_rank: int, endpoint: str, cause: str, now: float) -> str:
    """This pod could not connect to the rendezvous host at `endpoint`. Returns the requeue's summary;
    raises HostUnreachable (a crash) once it has happened UNREACHABLE_LIMIT times in a row while the host
    was up. Attempts while the host was not up are not counted (and do not break the row)."""
    if not host_is_up(store, now):
        return f"the rendezvous host {endpoint} is not up yet (index 0 not running?): {cause}"
    name = f"rendezvous-unreachable-{node_rank}.json"
    count = read_json(store, name, {"in_a_row": 0})["in_a_row"] + 1
    store.write("", name, json.dumps({"in_a_row": count, "endpoint": endpoint}).encode())
    if count >= UNREACHABLE_LIMIT:
        raise HostUnreachable(f"cannot connect to the rendezvous host {endpoint}: {count} attempts in a row "
                              f"while index 0 was hosting it (a missing Service, a NetworkPolicy on port "
                              f"{endpoint.rsplit(':', 1)[-1]} or broken DNS?): {cause}")
    return f"cannot connect to the rendezvous host {endpoint} while index 0 hosts it " \
           f"({count} of {UNREACHABLE_LIMIT} in a row): {cause}"


def reached_host(store: Store, node_rank: int) -> None:
    """This pod connected to the rendezvous host: the row of unreachable attempts ends."""
    name = f"rendezvous-unreachable-{node_rank}.json"
    if read_json(store, name, {"in_a_row": 0})["in_a_row"]:
        store.write("", name, json.dumps({"in_a_row": 0}).encode())
