"""A bounded, closable hand-off from the watcher's owner thread to any number of consumers.

The producer never blocks: it pushes what fits and keeps the rest (coalesced per path) until the
consumers have made room, which the channel signals through `on_space`. Consumers block in `get()`
or, from asyncio, wait on a future that the producer resolves thread-safely.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Generic, TypeVar

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")


class _Closed:
    __slots__ = ()

    def __repr__(self) -> str:
        return "CLOSED"


CLOSED: Final = _Closed()
"""Returned by `get()` once the channel is closed and empty."""


class Channel(Generic[T]):
    """A FIFO with a soft capacity, a close flag and an async wake-up.

    Args:
        capacity: How many items the producer puts in before it waits for room.
        on_space: Called (outside the lock, from a consumer thread) when the producer asked to be
            told about room and the channel has drained to half its capacity.
        eventfd_bell: Sleeping consumers wait on an eventfd (Linux), which a producer can ring
            without the GIL (`take_ring`); else on a queue. The eventfd is made when a consumer
            first sleeps and closed once the channel is closed and no consumer sleeps on it.
    """

    def __init__(
        self,
        capacity: int,
        *,
        on_space: Callable[[], None] | None = None,
        eventfd_bell: bool = False,
    ) -> None:
        self.capacity = capacity
        self._low_water = capacity // 2
        self._on_space = on_space
        self._lock = threading.Lock()
        # Consumers with nothing to take sleep on a C-level queue, woken by one token each.
        # Waking through it costs a fraction of threading.Condition's pure-Python waiter lists,
        # and a watcher that is not flooded wakes its consumer for nearly every event.
        self._bell: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._sleepers = 0  # consumers asleep that nobody has yet undertaken to wake
        self._deferred = 0  # consumers the producer will wake (see take_ring)
        self._use_eventfd = eventfd_bell and hasattr(os, "eventfd")
        self._bell_fd = -1
        self._inside = 0  # consumers between going to sleep on the eventfd and leaving it
        self._items: deque[T] = deque()
        self._closed = False
        self._want_space = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once `close()` was called."""
        return self._closed

    def room(self) -> int:
        """Return how many more items fit before the capacity is reached (may be <= 0)."""
        return self.capacity - len(self._items)

    def push(self, items: Iterable[T], *, want_space: bool = False, defer: bool = False) -> None:
        """Append `items` whatever the capacity (the producer checked `room()` first).

        Args:
            items: What to append, in order.
            want_space: The producer holds more; call `on_space` once consumers make room (at
                once, from this call, when they already have).
            defer: Leave the sleeping consumers to the producer, which wakes them with what
                `take_ring` says just before it sleeps itself (any other push, `close` or
                `unget` wakes them too).
        """
        room_now = False
        with self._lock:
            was_empty = not self._items
            self._items.extend(items)
            if want_space:
                if len(self._items) <= self._low_water:
                    # The consumers drained the channel after the producer found it full: they
                    # will not take again to say so, and the producer would wait for a wake-up
                    # that never comes (its last events stuck until the next change).
                    room_now = True
                else:
                    self._want_space = True
            if was_empty and self._items:
                if defer:
                    self._deferred += self._sleepers
                    self._sleepers = 0
                    if self._waiters:
                        self._wake_async()
                else:
                    self._ring(self._take_sleepers())
        if room_now and self._on_space is not None:
            self._on_space()

    def put(self, item: T) -> None:
        """Add one item regardless of capacity (errors, which must never wait)."""
        self.push((item,))

    def take_ring(self) -> tuple[int, int]:
        """Take the wake-ups `push(defer=True)` left to the producer.

        Returns:
            (fd, n): add n to the eventfd fd (`os.eventfd_write`) to wake them; n is 0 when
            there is nobody to wake (a queue bell is rung here, at once).
        """
        if not self._deferred:
            # Only the producer's own deferred pushes make it non-zero: read without the lock.
            return -1, 0
        with self._lock:
            wake, self._deferred = self._deferred, 0
            if wake and self._bell_fd >= 0:
                return self._bell_fd, wake
            self._ring(wake)
        return -1, 0

    def set_on_space(self, callback: Callable[[], None]) -> None:
        """Set the callback run when consumers have made room the producer asked for."""
        self._on_space = callback

    def close(self) -> None:
        """Close the channel: consumers get what remains, then CLOSED."""
        with self._lock:
            self._closed = True
            self._ring(self._take_sleepers())
            if not self._inside:
                self._close_bell()

    def get(self) -> T | _Closed:
        """Block until an item is available and return it, or CLOSED."""
        taken = self._take(1)
        return taken if isinstance(taken, _Closed) else taken[0]

    def get_batch(self) -> list[T] | _Closed:
        """Block until items are available and take them all (one lock round), or CLOSED."""
        return self._take(None)

    def _take(self, limit: int | None) -> list[T] | _Closed:
        while True:
            with self._lock:
                items = self._items
                if items:
                    if limit is None or limit >= len(items):
                        batch = list(items)
                        items.clear()
                    else:
                        batch = [items.popleft() for _ in range(limit)]
                    notify = self._want_space and len(items) <= self._low_water
                    if notify:
                        self._want_space = False
                    break
                if self._closed:
                    return CLOSED
                self._sleepers += 1
                fd = -1
                if self._use_eventfd:
                    if self._bell_fd < 0:
                        self._bell_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_SEMAPHORE)
                    fd = self._bell_fd
                    self._inside += 1
            if fd < 0:
                self._bell.get()
                continue
            try:
                os.read(fd, 8)  # open while this consumer is inside; retried after a signal
            finally:
                with self._lock:
                    self._inside -= 1
                    if self._closed and not self._inside:
                        self._close_bell()
        if notify and self._on_space is not None:
            self._on_space()
        return batch

    def unget(self, items: list[T]) -> None:
        """Put items a consumer took but did not deliver back at the head, in order."""
        if not items:
            return
        with self._lock:
            self._items.extendleft(reversed(items))
            self._ring(self._take_sleepers())

    def _take_sleepers(self) -> int:
        """With the lock held: every sleeping consumer is to be woken; async waiters too."""
        wake = self._sleepers + self._deferred
        self._sleepers = self._deferred = 0
        if self._waiters:
            self._wake_async()
        return wake

    def _ring(self, count: int) -> None:
        """With the lock held: wake `count` sleeping consumers."""
        if not count:
            return
        if self._use_eventfd:
            # Closed only when no consumer is inside; one that left on an exception (a signal
            # handler's) may still be counted: its token wakes another, who sleeps again.
            if self._bell_fd >= 0:
                os.eventfd_write(self._bell_fd, count)
            return
        for _ in range(count):
            self._bell.put(None)

    def _close_bell(self) -> None:
        """With the lock held, closed and nobody inside: release the eventfd."""
        if self._bell_fd >= 0:
            os.close(self._bell_fd)
            self._bell_fd = -1

    def get_nowait(self) -> T | _Closed | None:
        """Return an item, CLOSED, or None when nothing is available yet."""
        with self._lock:
            if not self._items:
                return CLOSED if self._closed else None
        return self.get()

    def wait_async(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """Return a future resolved when an item arrives or the channel closes."""
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._items or self._closed:
                future.set_result(None)
            else:
                self._waiters.append((loop, future))
        return future

    def drain(self) -> list[T]:
        """Remove and return everything queued (for tests and shutdown)."""
        with self._lock:
            out = list(self._items)
            self._items.clear()
        return out

    def _wake_async(self) -> None:
        waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # the loop was closed; nobody is waiting any more
                pass


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
