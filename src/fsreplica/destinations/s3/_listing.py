"""Listing a prefix: LIST pages, then the HEADs that S3 needs to tell user metadata.

S3's ListObjectsV2 answers key, size, ETag and date but no user metadata, so an object not seen
before costs one HEAD. They are sent concurrently through obstore's async API on one event loop
per page (no thread pool to own and stop).

LIST pages come one after the other (each needs the last one's continuation token), and each
is a round trip to the server: `Prefetch` asks for them in a thread of its own from the moment the
listing is asked for, so they arrive while the caller walks the source tree (the GIL is free
while a request is in flight).
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

import obstore

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import S3Store

PAGE_SIZE = 1000
PREFETCH_PAGES = 8
"""Pages fetched ahead of the reader at most."""
_POLL = 0.05  # seconds between looks at the stop flag while the reader is behind

T = TypeVar("T")

Head = tuple["ObjectMeta", Mapping[str, str]]
Page = list["ObjectMeta"]


def pages(store: S3Store, prefix: str) -> Iterator[list[ObjectMeta]]:
    """Yield pages of the objects whose key starts with `prefix` (a plain string prefix)."""
    # obstore lists whole path segments: list the enclosing "directory", filter the rest.
    directory = prefix.rpartition("/")[0] or None
    for page in obstore.list(store, directory, chunk_size=PAGE_SIZE):
        yield [meta for meta in page if meta["path"].startswith(prefix)]


def head_all(
    store: S3Store, keys: Sequence[str], *, concurrency: int
) -> list[Head | BaseException]:
    """HEAD every key, `concurrency` at a time; a failure is returned in place of its result."""
    import asyncio  # noqa: PLC0415 - slow to import; a listing that the cache answers needs none

    return asyncio.run(_head_all(store, keys, concurrency))


async def _head_all(
    store: S3Store, keys: Sequence[str], concurrency: int
) -> list[Head | BaseException]:
    import asyncio  # noqa: PLC0415 - see head_all

    gate = asyncio.Semaphore(concurrency)

    async def one(key: str) -> Head:
        async with gate:
            result = await obstore.get_async(store, key, options={"head": True})
        attributes = {name.lower(): str(value) for name, value in result.attributes.items()}
        return result.meta, attributes

    return await asyncio.gather(*(one(key) for key in keys), return_exceptions=True)


class Prefetch(Generic[T]):
    """Iterate `source` in a thread of its own, up to `depth` items ahead of the reader.

    The thread starts at once. It stops at the end of `source`, or soon after this object is
    closed or dropped unread (a finalizer sets its stop flag; it holds no reference to it).
    An exception of `source` is raised to the reader in its place.

    Args:
        source: What to iterate (LIST pages).
        depth: Items fetched ahead at most.
    """

    def __init__(self, source: Iterator[T], *, depth: int = PREFETCH_PAGES) -> None:
        self._queue: queue.Queue[tuple[bool, T | BaseException | None]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=_produce,
            args=(source, self._queue, self._stop),
            name="fsreplica-s3-list",
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
