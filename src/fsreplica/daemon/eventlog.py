"""The daemon's numbered events, in a bounded buffer that clients long-poll.

Ids increase by one from 1; the oldest events are dropped when the buffer is full, and a page
says which is the oldest still kept, so a client that fell behind sees the gap.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

from fsreplica.daemon.control import Event, EventKind, EventPage

DEFAULT_CAPACITY = 10_000
"""Events kept."""


class EventLog:
    """Numbered events; thread-safe.

    Args:
        capacity: Events kept (the oldest are dropped).
        clock: Wall clock for the events' times.
    """

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], float] = time.time):
        self._events: collections.deque[Event] = collections.deque(maxlen=capacity)
        self._clock = clock
        self._last = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def last(self) -> int:
        """The id of the newest event (0 before the first)."""
        return self._last

    def emit(
        self,
        kind: EventKind,
        *,
        policy: str | None = None,
        path: str | None = None,
        detail: str | None = None,
        bytes: int | None = None,
        lag: float | None = None,
        duration: float | None = None,
        when: float | None = None,
    ) -> Event:
        """Number and keep an event; wake the clients waiting for one."""
        with self._cond:
            self._last += 1
            event = Event(
                id=self._last,
                time=self._clock() if when is None else when,
                kind=kind,
                policy=policy,
                path=path,
                detail=detail,
                bytes=bytes,
                lag=lag,
                duration=duration,
            )
            self._events.append(event)
            self._cond.notify_all()
        return event

    def page(self, since: int, *, timeout: float = 0.0, limit: int = 1000) -> EventPage:
        """Events with an id above `since`, waiting up to `timeout` seconds for the first.

        A `since` above the newest id (a client of an earlier daemon, whose ids started again
        from 1) reads from the oldest event kept.
        """
        limit = max(1, limit)
        with self._cond:
            if since > self._last:
                since = 0
            if timeout > 0 and not self._closed:
                self._cond.wait_for(lambda: self._last > since or self._closed, timeout)
            first = self._events[0].id if self._events else self._last + 1
            skip = max(0, since + 1 - first)
            events = tuple(
                self._events[index] for index in range(skip, min(len(self._events), skip + limit))
            )
            return EventPage(events=events, next=events[-1].id if events else since, first=first)

    def close(self) -> None:
        """Wake every waiting client now, and let no one wait from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
