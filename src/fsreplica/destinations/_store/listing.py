"""Listing a prefix through obstore: LIST pages, then the HEADs needed to tell user metadata.

obstore's listing answers key, size, ETag and date but no user metadata (S3's ListObjectsV2 has
none to give), so an object not seen before costs one HEAD. They are sent concurrently through
obstore's async API on one event loop per page (no thread pool to own and stop).

LIST pages come one after the other (each needs the last one's continuation token), and each
is a round trip to the server: `_store.prefetch.Prefetch` asks for them in a thread of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import obstore

from fsreplica.destinations._base import LEASE_KEY

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import ObjectStore

PAGE_SIZE = 1000

Head = tuple["ObjectMeta", Mapping[str, str]]
Page = list["ObjectMeta"]


def pages(store: ObjectStore, prefix: str) -> Iterator[list[ObjectMeta]]:
    """Yield pages of the objects whose key starts with `prefix` (a plain string prefix)."""
    # obstore lists whole path segments: list the enclosing "directory", filter the rest.
    directory = prefix.rpartition("/")[0] or None
    for page in obstore.list(store, directory, chunk_size=PAGE_SIZE):
        yield [
            meta
            for meta in page
            if meta["path"].startswith(prefix) and meta["path"] != LEASE_KEY  # never an object
        ]


def head_all(
    store: ObjectStore, keys: Sequence[str], *, concurrency: int
) -> list[Head | BaseException]:
    """HEAD every key, `concurrency` at a time; a failure is returned in place of its result."""
    import asyncio  # noqa: PLC0415 - slow to import; a listing that the cache answers needs none

    return asyncio.run(_head_all(store, keys, concurrency))


async def _head_all(
    store: ObjectStore, keys: Sequence[str], concurrency: int
) -> list[Head | BaseException]:
    import asyncio  # noqa: PLC0415 - see head_all

    gate = asyncio.Semaphore(concurrency)

    async def one(key: str) -> Head:
        async with gate:
            result = await obstore.get_async(store, key, options={"head": True})
        attributes = {name.lower(): str(value) for name, value in result.attributes.items()}
        return result.meta, attributes

    return await asyncio.gather(*(one(key) for key in keys), return_exceptions=True)
