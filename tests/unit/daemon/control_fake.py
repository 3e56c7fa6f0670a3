"""A small in-process `Control` for unit tests of what reads it (metrics, systemd).

Real threads and a real condition variable, no mocks: it keeps an event buffer and a status,
as the manager does, and `close()` wakes every long poll as the manager does when it stops.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from fsreplica.daemon.control import (
    DaemonStatus,
    Event,
    EventKind,
    EventPage,
    Job,
    Policy,
    PolicyStatus,
)


class FakeControl:
    def __init__(self, *policies: str, buffer: int = 10_000) -> None:
        self._cond = threading.Condition()
        self._events: list[Event] = []
        self._buffer = buffer
        self._next = 1
        self._closed = False
        self.polls: list[float] = []  # the timeout of each events() call
        self.statuses = {p: PolicyStatus(id=p, state="live") for p in policies}
        self.ready = True
        self.watches = 7
        self.watch_limit: int | None = 8192

    def emit(self, kind: EventKind, policy: str | None = None, **fields: Any) -> Event:
        with self._cond:
            event = Event(id=self._next, time=time.time(), kind=kind, policy=policy, **fields)
            self._next += 1
            self._events.append(event)
            del self._events[: -self._buffer]
            self._cond.notify_all()
        return event

    def set_status(self, policy: str, **changes: Any) -> None:
        current = self.statuses.get(policy) or PolicyStatus(id=policy, state="live")
        self.statuses[policy] = dataclasses.replace(current, **changes)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def events(self, since: int, *, timeout: float = 0.0, limit: int = 1000) -> EventPage:
        deadline = time.monotonic() + timeout
        with self._cond:
            self.polls.append(timeout)
            while not self._closed:
                found = [e for e in self._events if e.id > since]
                if found:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            found = [e for e in self._events if e.id > since][:limit]
            first = self._events[0].id if self._events else self._next
            return EventPage(
                events=tuple(found), next=found[-1].id if found else since, first=first
            )

    def status(self) -> DaemonStatus:
        return DaemonStatus(
            version="0",
            started=0.0,
            ready=self.ready,
            config="/dev/null",
            policies=tuple(self.statuses.values()),
            watches=self.watches,
            watch_limit=self.watch_limit,
        )

    def policy_status(self, policy_id: str) -> PolicyStatus:
        return self.statuses[policy_id]

    # The rest of the protocol, unused by the readers under test.
    def policies(self) -> Sequence[Policy]:
        return ()

    def policy(self, policy_id: str) -> Policy:
        raise NotImplementedError

    def add_policy(self, policy: Policy) -> Policy:
        raise NotImplementedError

    def replace_policy(self, policy: Policy) -> Policy:
        raise NotImplementedError

    def update_policy(self, policy_id: str, changes: Mapping[str, Any]) -> Policy:
        raise NotImplementedError

    def remove_policy(self, policy_id: str) -> None:
        raise NotImplementedError

    def trigger(self, policy_id: str | None = None) -> Sequence[Job]:
        raise NotImplementedError

    def job(self, job_id: str) -> Job:
        raise NotImplementedError

    def reload(self) -> Mapping[str, Sequence[str]]:
        raise NotImplementedError
