"""A policy's destination lease: write only while holding it, stand by while another daemon does.

The lease itself (taken and renewed with the destination's conditional writes) is
`fsreplica.daemon.lease`; this is how a policy waits for it.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

from fsreplica._names import one_line
from fsreplica.daemon.control import PolicyState
from fsreplica.daemon.lease import Lease, LeaseKeeper
from fsreplica.errors import DestinationError

RETRY_OPEN = 5.0
"""Seconds between tries of a destination that cannot be reached (to open it, or its lease)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Leases:
    """How a daemon's policies take their destinations' leases.

    Attributes:
        owner: This daemon's name in the lease objects (host and config file).
        ttl: Seconds a lease lasts without renewal.
        keeper: Renews every held lease.
    """

    owner: str
    ttl: float
    keeper: LeaseKeeper


def acquire(
    lease: Lease,
    *,
    stop: threading.Event,
    state: Callable[[PolicyState, str | None], None],
    fail: Callable[[str], None],
    log: logging.Logger,
) -> bool:
    """Take the destination's lease, standing by ("standby") while another daemon holds it.

    One line says who holds it (again only when the holder changes), one when it is taken over.

    Args:
        lease: The lease of the policy's destination.
        stop: Set when the policy is to stop.
        state: Sets the policy's state and its detail.
        fail: Marks the policy failed with a one-line cause.
        log: The policy's logger.

    Returns:
        True once held; False when the policy stops (or fails) first.
    """
    shown: str | None = None
    while not stop.is_set():
        try:
            holder = lease.try_acquire()
        except DestinationError as exc:
            if not exc.retryable:
                fail(str(exc))
                stop.wait()
                return False
            state("destination-down", one_line(str(exc)))
            stop.wait(RETRY_OPEN)
            continue
        if holder is None:
            if shown is not None:
                log.warning("%s: lease taken over from %s", lease.url, shown)
            return True
        who = holder.describe()
        state("standby", f"{lease.url}: lease held by {who}")
        if who != shown:
            log.warning(
                "%s: lease held by %s; standing by until it is released or expires",
                lease.url,
                who,
            )
            shown = who
        stop.wait(lease.retry_in())  # the next try, when the holder's lease may have lapsed
    return False
