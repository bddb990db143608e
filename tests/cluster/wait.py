"""Polling with a deadline: the one way the cluster tests wait for a controller to act."""

import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes import client

T = TypeVar("T")


class Timeout(AssertionError):
    """A condition did not hold in time; an AssertionError so pytest reports it as a test failure."""


def until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Call `check` until it returns something truthy and return that; raise Timeout naming `what`.

    The last value `check` returned goes into the message, which is usually the state that explains why.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout:g} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


def exists(read: Callable, *args) -> bool:
    """Whether `read(*args)` finds the object (404 is False; other errors raise): a condition to wait on."""
    try:
        read(*args)
        return True
    except client.ApiException as exc:
        if exc.status == 404:
            return False
        raise
