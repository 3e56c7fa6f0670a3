"""Listing a prefix through obstore: LIST pages, then the HEADs needed to tell user metadata.

obstore's listing answers key, size, ETag and date but no user metadata (S3's ListObjectsV2 has
none to give), so an object not seen before costs one HEAD. They are sent concurrently through
obstore's async API on one event loop per page (no thread pool to own and stop).

LIST pages come one after the other (each needs the last one's continuation token), and each
is a round trip to the server: `_store.prefetch.Prefetch` asks for them in a thread of its own.

obstore refuses a whole LIST page that holds one key it cannot name as a path ('..' or '.'
segments, '//', control characters: keys other tools may write). A store whose other client
names every key as it is (S3, through botocore) goes on through it (`pages`' `fallback`): such a
key is listed under that name, for the caller to refuse (`check_key`) while the other keys stay
usable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import InvalidPathError

from fsreplica.destinations._base import LEASE_KEY

if TYPE_CHECKING:
    from obstore import ObjectMeta
    from obstore.store import ObjectStore

PAGE_SIZE = 1000

Head = tuple["ObjectMeta", Mapping[str, str]]
Page = list["ObjectMeta"]


RawPages = Callable[[str, str | None], Iterator[Page]]
"""Pages of every key under a directory (its path, '' for all), after a key (or from the start),
through a client that names every key as it is."""

# What object_store's Path refuses: an empty, '.' or '..' segment, or an ASCII control.
_NOT_A_PATH = re.compile(r"(?:^|/)\.{0,2}(?:/|$)|[\x00-\x1f\x7f]")


def is_path(key: str) -> bool:
    """True when obstore can name the stored key `key` (see the module docstring)."""
    return _NOT_A_PATH.search(key) is None


def pages(
    store: ObjectStore, prefix: str, *, fallback: RawPages | None = None
) -> Iterator[list[ObjectMeta]]:
    """Yield pages of the objects whose key starts with `prefix` (a plain string prefix).

    Args:
        store: The store.
        prefix: Only keys that start with it.
        fallback: Lists the rest when obstore refuses a page (see the module docstring).
    """
    # obstore lists whole path segments: list the enclosing "directory", filter the rest.
    directory = prefix.rpartition("/")[0] or None
    last = None
    try:
        for page in obstore.list(store, directory, chunk_size=PAGE_SIZE):
            if page:
                last = page[-1]["path"]
            yield _objects(page, prefix)
    except InvalidPathError:
        if fallback is None:
            raise
        for page in fallback(directory or "", last):
            yield _objects(page, prefix)


def _objects(page: Sequence[ObjectMeta], prefix: str) -> Page:
    """The objects of `page` whose key starts with `prefix` (a lease is never an object)."""
    return [meta for meta in page if meta["path"].startswith(prefix) and meta["path"] != LEASE_KEY]


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
