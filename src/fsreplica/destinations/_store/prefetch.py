"""Listing pages fetched ahead, in a thread of their own.

Pages of a listing come one after the other (each needs the last one's continuation token), and
each is a round trip to the server: `Prefetch` asks for them from the moment the listing is asked
for, so they arrive while the caller walks the source tree (the GIL is free while a request is in
flight).
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator
from typing import Generic, TypeVar

PREFETCH_PAGES = 8
"""Pages fetched ahead of the reader at most."""
_POLL = 0.05  # seconds between looks at the stop flag while the reader is behind

T = TypeVar("T")


class Prefetch(Generic[T]):
    """Iterate `source` in a thread of its own, up to `depth` items ahead of the reader.

    The thread starts at once. It stops at the end of `source`, or soon after this object is
    closed or dropped unread (a finalizer sets its stop flag; it holds no reference to it).
    An exception of `source` is raised to the reader in its place.

    Args:
        source: What to iterate (LIST pages).
        name: The thread's name.
        depth: Items fetched ahead at most.
    """

    def __init__(
        self, source: Iterator[T], *, name: str = "fsreplica-list", depth: int = PREFETCH_PAGES
    ) -> None:
        self._queue: queue.Queue[tuple[bool, T | BaseException | None]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=_produce,
            args=(source, self._queue, self._stop),
            name=name,
            daemon=True,
        )
        weakref.finalize(self, self._stop.set)
        self._thread.start()

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        more, value = self._queue.get()
        if more:
            return value  # type: ignore[return-value]
        self._done = True
        self._thread.join()
        if value is not None:
            raise value  # type: ignore[misc]
        raise StopIteration

    def close(self) -> None:
        """Stop fetching and wait for the thread; idempotent."""
        self._done = True
        self._stop.set()
        self._thread.join()


def _produce(
    source: Iterator[T],
    out: queue.Queue[tuple[bool, T | BaseException | None]],
    stop: threading.Event,
) -> None:
    def put(item: tuple[bool, T | BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    try:
        for value in source:
            if not put((True, value)):
                return
    except BaseException as exc:  # handed to the reader, who raises it
        put((False, exc))
        return
    put((False, None))
