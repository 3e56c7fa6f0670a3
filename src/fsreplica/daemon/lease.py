"""The lease of a destination: daemons on several hosts, one writer at a time.

Two daemons given the same destination (each with its own state, as on two hosts) would both
write it, and each would delete what only the other copied. So a policy writes only while it
holds the destination's lease: a small JSON object at `LEASE_KEY`, taken and renewed with the
destination's conditional writes (create if absent, replace if the tag is still the one read),
as litestream does for the same problem. The other daemon's policy waits in "standby", naming
the holder, and takes over when the lease expires.

When a lease has expired, for a standby:
- its `expires` (wall clock of the holder) has passed, which takes over at once from a holder
  that stopped long ago or released it; or
- it has not changed for `ttl` seconds of the standby's own monotonic clock, which needs no
  agreement between the hosts' clocks.

The holder renews every `ttl / 3` seconds (one thread for every lease of a daemon, asleep
between renewals, see `LeaseKeeper`) and gives the lease up, stopping its writes, when a renewal
finds another version, or when it could not renew for `ttl` seconds since the last one that
worked: by then a standby may take over. Holders are named by `owner` (host and config file): a
daemon restarted after a crash takes its own lease back at once instead of waiting for it.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable

from fsreplica.destinations import LEASE_KEY, SupportsConditional
from fsreplica.errors import ConditionFailed, DestinationError

log = logging.getLogger(__name__)

DEFAULT_LEASE_TTL = 60.0
"""Seconds a lease lasts without renewal (renewed every third of it)."""


def default_owner(config: str) -> str:
    """The owner name of a daemon: `host:config-file`, the same after a restart."""
    return f"{socket.gethostname()}:{config}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Holder:
    """Who holds a lease, as its object says.

    Attributes:
        owner: The holder's name (host and config file).
        pid: Its process.
        expires: When it lapses without renewal (Unix time, the holder's clock).
    """

    owner: str
    pid: int
    expires: float

    def describe(self) -> str:
        """One line: `owner (pid N)`."""
        return f"{self.owner} (pid {self.pid})"

    @classmethod
    def parse(cls, data: bytes) -> Holder | None:
        """Read a lease object; None when it is not one (taken over as expired)."""
        try:
            raw = json.loads(data)
            return cls(owner=str(raw["owner"]), pid=int(raw["pid"]), expires=float(raw["expires"]))
        except (ValueError, KeyError, TypeError):
            return None


class Lease:
    """The lease of one destination, for one owner; thread-safe.

    The keeper renews it in its thread while the policy releases it in another: one write at a
    time, so a release always replaces the version the last renewal wrote.

    Args:
        cas: The destination's conditional capability.
        url: The destination, for messages.
        owner: This daemon's name (see `default_owner`).
        ttl: Seconds the lease lasts without renewal.
        clock: Monotonic clock (seconds).
        wall: Wall clock (Unix time), written into the object for others to read.
        pid: Written into the object, for people.
    """

    def __init__(
        self,
        cas: SupportsConditional,
        *,
        url: str,
        owner: str,
        ttl: float = DEFAULT_LEASE_TTL,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        pid: int | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("lease ttl must be positive")
        self.cas = cas
        self.url = url
        self.owner = owner
        self.ttl = ttl
        self._clock = clock
        self._wall = wall
        self._pid = pid if pid is not None else _getpid()
        self._tag: str | None = None  # the version we wrote, while we hold it
        self.valid_until = 0.0  # monotonic: ours until then, unless renewed
        self.holder: Holder | None = None  # the other holder, last seen
        self._seen: tuple[str, float] | None = None  # (its tag, when first seen unchanged)
        self._lock = threading.RLock()  # one write at a time: a renewal never races a release

    @property
    def held(self) -> bool:
        """True while this owner holds the lease (renewed within `ttl`)."""
        return self._tag is not None and self._clock() < self.valid_until

    def _content(self, *, expires: float) -> bytes:
        return json.dumps(
            {"owner": self.owner, "pid": self._pid, "expires": round(expires, 3), "version": 1}
        ).encode()

    def _write(self, tag: str | None) -> None:
        started = self._clock()
        self._tag = self.cas.put_if(
            LEASE_KEY, self._content(expires=self._wall() + self.ttl), tag=tag
        )
        self.valid_until = started + self.ttl
        self.holder = None
        self._seen = None

    def try_acquire(self) -> Holder | None:
        """Take the lease if it is free, expired or already ours.

        Returns:
            None when this owner holds it now; else the holder (this one waits: "standby").

        Raises:
            DestinationError: The destination cannot be read or written.
        """
        with self._lock:
            return self._try_acquire()

    def _try_acquire(self) -> Holder | None:
        try:
            data, tag = self.cas.read_tag(LEASE_KEY)
        except FileNotFoundError:
            try:
                self._write(None)
                return None
            except ConditionFailed:
                return self._other()  # another daemon created it a moment ago
        holder = Holder.parse(data)
        if holder is None or holder.owner == self.owner or self._expired(holder, tag):
            try:
                self._write(tag)
                return None
            except ConditionFailed:
                return self._other()
        self.holder = holder
        self._tag = None
        return holder

    def _expired(self, holder: Holder, tag: str) -> bool:
        if holder.expires <= self._wall():
            return True
        now = self._clock()
        if self._seen is None or self._seen[0] != tag:
            self._seen = (tag, now)
            return False
        return now - self._seen[1] >= self.ttl

    def _other(self) -> Holder | None:
        try:
            data, _ = self.cas.read_tag(LEASE_KEY)
        except FileNotFoundError:
            return None
        self.holder = Holder.parse(data)
        self._tag = None
        return self.holder

    def retry_in(self) -> float:
        """Seconds a standby waits before trying again."""
        wait = self.ttl / 3
        if self.holder is not None:
            wait = min(wait, max(self.holder.expires - self._wall(), 0.0) + 0.05)
        return max(wait, 0.05)

    def renew(self) -> str | None:
        """Renew the lease; None when done, else why it is lost (one line).

        A failure to reach the destination loses it only once `ttl` has passed since the last
        renewal that worked (a standby may have taken over by then).
        """
        with self._lock:
            return self._renew()

    def _renew(self) -> str | None:
        if self._tag is None:
            return "not held"
        try:
            self._write(self._tag)
            return None
        except ConditionFailed:
            self._tag = None
            holder = self._other()
            who = holder.describe() if holder is not None else "another daemon"
            return f"{self.url}: lease taken over by {who}"
        except DestinationError as exc:
            if self._clock() < self.valid_until:
                log.warning("renewing the lease of %s failed: %s", self.url, exc)
                return None
            self._tag = None
            return f"{self.url}: lease lapsed: {exc}"

    def release(self) -> None:
        """Give the lease up (expired at once, so a standby takes over); never raises."""
        with self._lock:
            self._release()

    def _release(self) -> None:
        tag, self._tag = self._tag, None
        if tag is None:
            return
        try:
            self.cas.put_if(LEASE_KEY, self._content(expires=0.0), tag=tag)
        except DestinationError as exc:
            log.info("releasing the lease of %s: %s", self.url, exc)


def _getpid() -> int:
    import os  # noqa: PLC0415 - only for the default pid

    return os.getpid()


@dataclasses.dataclass(eq=False)
class _Kept:
    lease: Lease
    on_lost: Callable[[str], None]
    due: float


class LeaseKeeper:
    """Renews every held lease of a daemon, each every `ttl / 3`, in one thread.

    The thread sleeps until the next renewal is due (and forever while no lease is held), and
    renews the leases due soon with it: an idle daemon with many leases wakes once every
    `ttl / 3` for all of them, never to check a flag.

    Args:
        clock: Monotonic clock (seconds).
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Kept]] = []
        self._kept: dict[int, _Kept] = {}  # id(lease) -> entry
        self._order = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def keep(self, lease: Lease, *, on_lost: Callable[[str], None]) -> None:
        """Renew `lease` (held) until `drop`; `on_lost(reason)` is called if it is lost."""
        entry = _Kept(lease, on_lost, self._clock() + lease.ttl / 3)
        with self._cond:
            if self._stopping:
                return
            self._kept[id(lease)] = entry
            heapq.heappush(self._heap, (entry.due, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fsreplica-lease", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def drop(self, lease: Lease, *, release: bool = True) -> None:
        """Stop renewing `lease`, and (with `release`) give it up."""
        with self._cond:
            self._kept.pop(id(lease), None)
        if release:
            lease.release()

    def close(self) -> None:
        """Stop the thread (leases are not released: `drop` each first); idempotent."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
                if not due:
                    return
            for entry in due:
                reason = entry.lease.renew()
                with self._cond:
                    if self._kept.get(id(entry.lease)) is not entry:
                        continue  # dropped while renewing
                    if reason is None:
                        # After a failed renewal, the next try comes no later than the lease's
                        # end, so that a lapse is noticed before a standby may take over.
                        now = self._clock()
                        entry.due = min(
                            now + entry.lease.ttl / 3, max(entry.lease.valid_until, now)
                        )
                        heapq.heappush(self._heap, (entry.due, next(self._order), entry))
                        continue
                    del self._kept[id(entry.lease)]
                log.warning("%s", reason)
                entry.on_lost(reason)

    def _next_due(self) -> list[_Kept]:
        """Wait (holding the condition) for the next renewal due; [] when stopping.

        The leases due soon (within a sixth of their ttl) are renewed with it, early: the
        renewals of a daemon's leases fall into step, one wake-up for all of them.
        """
        while not self._stopping:
            while self._heap and self._kept.get(id(self._heap[0][2].lease)) is not self._heap[0][2]:
                heapq.heappop(self._heap)  # dropped
            if not self._heap:
                self._cond.wait()
                continue
            now = self._clock()
            left = self._heap[0][0] - now
            if left > 0:
                self._cond.wait(left)
                continue
            due = []
            while self._heap and self._heap[0][0] <= now + self._heap[0][2].lease.ttl / 6:
                entry = heapq.heappop(self._heap)[2]
                if self._kept.get(id(entry.lease)) is entry:
                    due.append(entry)
            return due
        return []
