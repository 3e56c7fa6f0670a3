"""Whether the destination is taking writes: one line when it stops, one when it is back.

A destination that is down (an endpoint that refuses connections, a disk that is full or
remounted read-only) fails every change the same way. The changes wait and are retried; the
user is told once, with what is waiting, and once again when it clears, with how long it lasted,
instead of once per file or not at all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from fsreplica.errors import DestinationError


class DestinationHealth:
    """Tracks outages of one destination from the outcomes of its operations; thread-safe.

    Args:
        url: The destination, as shown in the log lines.
        logger: Where the two lines of an outage go (WARNING).
        waiting: Returns how many changes are waiting (the engine's backlog).
        on_change: Called with True when an outage starts and False when it ends (the engine
            probes while down and runs every waiting change when the destination is back).
        clock: Monotonic clock, in seconds.

    Attributes:
        waiting: As the argument; may be set once the engine exists.
        on_change: As the argument; may be set once the engine exists.
    """

    def __init__(
        self,
        url: str,
        *,
        logger: logging.Logger,
        waiting: Callable[[], int] = lambda: 0,
        on_change: Callable[[bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._log = logger
        self.waiting = waiting
        self.on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._detected = 0.0
        self._reason = ""

    @property
    def down(self) -> bool:
        """True between a transient failure and the next success."""
        return self._since is not None

    @property
    def reason(self) -> str | None:
        """Why the destination is down (the failure that began the outage), or None when up."""
        with self._lock:
            return self._reason if self._since is not None else None

    def failed(self, error: DestinationError, *, since: float | None = None) -> None:
        """An operation failed for a reason that may pass (`error.retryable`).

        Args:
            error: Why.
            since: When (on `clock`) the failed operation began: a client that retried for a
                while before giving up was already facing the outage then.
        """
        with self._lock:
            if self._since is not None:
                return  # the same outage: said once
            self._detected = self._clock()
            self._since = self._detected if since is None else since
            self._reason = error.reason
        self._log.warning(
            "destination %s unavailable: %s; %d changes waiting, retrying until it clears",
            self.url,
            error.reason,
            self.waiting(),
        )
        if self.on_change is not None:
            self.on_change(True)

    def succeeded(self, *, started: float | None = None) -> None:
        """An operation went through.

        Args:
            started: When (on `clock`) the operation began. One that began before the outage
                was noticed (another worker's, in flight meanwhile) does not end it: it may have
                done its writing before the disk filled, and taking it as the end would log the
                outage as over and then as begun again.
        """
        if self._since is None:  # the usual case, without taking the lock
            return
        with self._lock:
            since = self._since
            if since is None or (started is not None and started < self._detected):
                return
            self._since = None
            lasted = self._clock() - since
        self._log.warning(
            "destination %s available again after %.1f s (%s); %d changes waiting",
            self.url,
            lasted,
            self._reason,
            self.waiting(),
        )
        if self.on_change is not None:
            self.on_change(False)
