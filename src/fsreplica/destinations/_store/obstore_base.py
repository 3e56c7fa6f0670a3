"""ObjectStoreDestination: the Destination contract on one bucket or container, through obstore.

What every object store shares lives here: puts (one request, or a multipart upload with bounded
memory), conditional writes on the ETag, stat by HEAD, listing with the metadata cache, copy and
rename by server-side copy, reads, and the conditional capability (`read_tag` / `put_if`) a lease
is kept with. A store's subclass (`S3Destination`, `AzureDestination`)
opens the obstore store and adds what differs: credentials, preflight, in-place metadata updates
and the words of its errors.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Self

import obstore
from obstore.exceptions import AlreadyExistsError, PreconditionError

from fsreplica._names import from_key, to_key
from fsreplica.destinations._base import ObjectInfo, check_key
from fsreplica.destinations._store import body as _body
from fsreplica.destinations._store import listing as _listing
from fsreplica.destinations._store import meta as _meta
from fsreplica.destinations._store import multipart as _multipart
from fsreplica.destinations._store.cache import same_etag
from fsreplica.destinations._store.prefetch import Prefetch
from fsreplica.errors import ConditionFailed, DestinationError, SourceChangedError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from obstore import ObjectMeta
    from obstore.store import ObjectStore

    from fsreplica.destinations._source import SourceFile
    from fsreplica.destinations._store.cache import MetadataCache

log = logging.getLogger(__name__)

MAX_CONDITIONAL_TRIES = 4


class ObjectStoreDestination:
    """Objects under a key prefix of one bucket or container (see the module docstring).

    A subclass calls `_setup` from its constructor, sets `_store`, and implements `_error`,
    `_is_missing`, and the optional capabilities that need more than obstore offers.

    Attributes:
        url: The display form, `scheme://bucket/prefix`.
        conditional: Whether puts are conditional (If-None-Match / If-Match on the ETag).
    """

    ctime_name: ClassVar[str] = _meta.CTIME
    """The metadata name of the source ctime in this store."""
    list_thread: ClassVar[str] = "fsreplica-list"
    """The name of the thread that fetches listing pages ahead."""

    url: str
    conditional: bool
    multipart_threshold: int
    part_size: int
    upload_concurrency: int
    list_concurrency: int
    _store: ObjectStore
    _cache: MetadataCache

    def _setup(
        self,
        *,
        url: str,
        cache: MetadataCache,
        multipart_threshold: int,
        part_size: int,
        upload_concurrency: int,
        list_concurrency: int,
        conditional: bool | None,
    ) -> None:
        self.url = url
        self._root = url + "/"
        self.multipart_threshold = max(multipart_threshold, 0)
        self.part_size = part_size
        self.upload_concurrency = max(upload_concurrency, 1)
        self.list_concurrency = max(list_concurrency, 1)
        self.conditional = conditional is not False
        self._conditional_explicit = conditional is not None
        self._etag_bare = False
        self._lock = threading.Lock()
        self._closed = False
        self._cache = cache

    # -- what a store's subclass provides -----------------------------------------------------

    def _error(self, op: str, key: str, exc: BaseException) -> DestinationError:
        """`exc`, raised by `op` on the stored key `key`, as the contract's error."""
        raise NotImplementedError

    def _is_missing(self, exc: BaseException) -> bool:
        """Whether `exc` says the object (not the bucket or container) does not exist."""
        raise NotImplementedError

    def _to_key(self, name: str) -> str:
        """The stored key of a name (see `fsreplica._names`)."""
        return to_key(name)

    def _close_clients(self) -> None:
        """Release what the subclass opened besides the store (once, from `close`)."""

    def _listing_fallback(self) -> _listing.RawPages | None:
        """Another client's listing, for keys obstore cannot name (see `_store.listing`)."""
        return None

    # -- the contract ----------------------------------------------------------------------

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        """Store `source` under `key` (see `Destination.put`).

        With conditional writes, a small file is created with If-None-Match or replaces the
        version last seen with If-Match; a stored version whose source ctime is newer than this
        one's is never replaced (SourceChangedError: the file changed since it was opened).
        A large file is checked the same way just before its multipart upload starts.

        Raises:
            SourceChangedError: The source changed, or a newer version is already stored.
            DestinationError: The upload failed.
        """
        check_key(key, op="put")
        skey = self._to_key(key)
        try:
            if source.size <= self.multipart_threshold:
                body = _body.read_whole(source)
                attributes = _meta.attributes_for(source, ctime_name=self.ctime_name)
                etag = self._put_small(skey, body, attributes, source)
                size = len(body)
            else:
                _body.hash_file(source)
                attributes = _meta.attributes_for(source, ctime_name=self.ctime_name)
                if self.conditional:
                    self._refuse_if_newer(skey, source)
                size = _multipart.upload_multipart(
                    self._store,
                    skey,
                    source,
                    attributes=attributes,
                    part_size=self.part_size,
                    concurrency=self.upload_concurrency,
                )
                etag = None
        except (SourceChangedError, DestinationError):
            raise
        except Exception as exc:
            raise self._error("put", skey, exc) from exc
        info = ObjectInfo(key, size, source.mtime_ns, source.mode, source.sha256)
        self._remember(skey, etag, info)
        return info

    def _put_small(
        self, key: str, body: bytes, attributes: dict[str, str], source: SourceFile
    ) -> str | None:
        if not self.conditional:
            return obstore.put(self._store, key, body, attributes=attributes, use_multipart=False)[
                "e_tag"
            ]
        expected = self._cache.etag(key)
        for _ in range(MAX_CONDITIONAL_TRIES):
            try:
                mode: Any = {"e_tag": self._if_match(expected)} if expected else "create"
                return obstore.put(
                    self._store, key, body, attributes=attributes, mode=mode, use_multipart=False
                )["e_tag"]
            except (AlreadyExistsError, PreconditionError, FileNotFoundError):
                pass  # exists / changed / vanished since last seen: look again
            current = self._head(key)
            if current is None:
                expected = None
                continue
            meta, stored = current
            if _meta.ctime_of(stored, name=self.ctime_name) > source.stat.st_ctime_ns:
                raise SourceChangedError(source.path)
            if expected is not None and meta["e_tag"] == expected and not self._etag_bare:
                # Refused although unchanged: Ceph RGW 16 compares If-Match without the quotes.
                log.info("%s: the store wants If-Match etags without quotes", self.url)
                self._etag_bare = True
            expected = meta["e_tag"]
        raise DestinationError("put", self._where(key), "object keeps changing", retryable=True)

    def _if_match(self, etag: str) -> str:
        return etag.strip('"') if self._etag_bare else etag

    def _refuse_if_newer(self, key: str, source: SourceFile) -> None:
        current = self._head(key)
        if (
            current is not None
            and _meta.ctime_of(current[1], name=self.ctime_name) > source.stat.st_ctime_ns
        ):
            raise SourceChangedError(source.path)

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is fine."""
        check_key(key, op="delete")
        skey = self._to_key(key)
        self._cache.forget(skey)
        try:
            obstore.delete(self._store, skey)
        except Exception as exc:
            if self._is_missing(exc):
                return
            raise self._error("delete", skey, exc) from exc

    def stat(self, key: str) -> ObjectInfo:
        """Return the stored info of `key` (one HEAD request).

        Raises:
            FileNotFoundError: Nothing is stored under `key`.
            DestinationError: The request failed.
        """
        check_key(key, op="stat")
        skey = self._to_key(key)
        current = self._head(skey)
        if current is None:
            raise FileNotFoundError(key)
        meta, attributes = current
        info = _meta.info_from(key, meta["size"], meta["last_modified"], attributes)
        self._remember(skey, meta["e_tag"], info)
        return info

    def _head(self, key: str) -> tuple[ObjectMeta, Mapping[str, str]] | None:
        """HEAD the stored key `key`: (meta, user metadata), or None when it does not exist."""
        try:
            result = obstore.get(self._store, key, options={"head": True})
        except Exception as exc:
            if self._is_missing(exc):
                return None
            raise self._error("stat", key, exc) from exc
        attributes = {name.lower(): str(value) for name, value in result.attributes.items()}
        return result.meta, attributes

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with `prefix`.

        One LIST request per 1,000 keys, sent from now on (before the first object is asked
        for); an object this process has not seen with the same ETag and size costs a HEAD as
        well (the listing carries no user metadata), `list_concurrency` at a time.
        """
        stored = self._to_key(prefix)  # a prefix of a name is a prefix of its key (a prefix code)
        listing = _listing.pages(self._store, stored, fallback=self._listing_fallback())
        return self._list(Prefetch(listing, name=self.list_thread), stored)

    def _list(self, pages: Prefetch[_listing.Page], prefix: str) -> Iterator[ObjectInfo]:
        try:
            for page in pages:
                yield from self._infos(page)
            self._cache.flush()
        except DestinationError:
            raise
        except Exception as exc:
            raise self._error("list", prefix, exc) from exc
        finally:
            pages.close()

    def _infos(self, page: Sequence[ObjectMeta]) -> Iterator[ObjectInfo]:
        """The infos of a LIST page, named by the names the stored keys stand for, in its order.

        In the page's order (the order of the stored keys) even when some needed a HEAD: a
        reconcile compares the listing with the source in that order (see `replicate.march`).
        """
        infos: list[ObjectInfo | None] = []
        unknown: dict[str, tuple[int, ObjectMeta]] = {}
        for meta in page:
            key, modified = meta["path"], meta["last_modified"].isoformat()
            if not _listing.is_path(key):
                # Written by another tool under a name obstore cannot ask for (`..`, `//`):
                # listed with what the LIST said, for the caller to refuse by name.
                named = from_key(key)
                infos.append(_meta.info_from(named, meta["size"], meta["last_modified"], {}))
                continue
            cached = self._cache.get(key, meta["e_tag"], meta["size"], modified)
            if cached is None:
                unknown[key] = (len(infos), meta)
            infos.append(None if cached is None else _named(cached, from_key(key)))
        if unknown:
            keys = tuple(unknown)
            results = _listing.head_all(self._store, keys, concurrency=self.list_concurrency)
            for key, result in zip(keys, results, strict=True):
                if isinstance(result, BaseException):
                    if self._is_missing(result):
                        continue  # deleted since the LIST
                    raise self._error("list", key, result) from result
                head, attributes = result
                found = _meta.info_from(key, head["size"], head["last_modified"], attributes)
                at, listed = unknown[key]
                modified = listed["last_modified"].isoformat()
                same = same_etag(head["e_tag"], listed["e_tag"])
                self._cache.put(found, head["e_tag"], modified if same else None)
                infos[at] = _named(found, from_key(key))
        for info in infos:
            if info is not None:
                yield info

    # -- optional capabilities ---------------------------------------------------------------

    def copy(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Copy `src_key` to `dst_key` inside the store (server-side, metadata kept)."""
        check_key(src_key, op="copy")
        check_key(dst_key, op="copy")
        return self._copy(self._to_key(src_key), self._to_key(dst_key), op="copy")

    def _copy(self, src_key: str, dst_key: str, *, op: str) -> ObjectInfo:
        """Copy between stored keys; the info is named by the name `dst_key` stands for."""
        try:
            obstore.copy(self._store, src_key, dst_key)
        except Exception as exc:
            if self._is_missing(exc):
                raise FileNotFoundError(from_key(src_key)) from None
            raise self._error(op, src_key, exc) from exc
        # A copy answers no metadata; one HEAD gives the copy's ETag and info.
        current = self._head(dst_key)
        if current is None:
            raise DestinationError(op, self._where(dst_key), "copy vanished", retryable=True)
        meta, attributes = current
        info = _meta.info_from(from_key(dst_key), meta["size"], meta["last_modified"], attributes)
        self._remember(dst_key, meta["e_tag"], info)
        return info

    def rename(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Move `src_key` to `dst_key`: a server-side copy, then a delete of the source."""
        check_key(src_key, op="rename")
        check_key(dst_key, op="rename")
        info = self._copy(self._to_key(src_key), self._to_key(dst_key), op="rename")
        self.delete(src_key)
        return info

    def read(self, key: str) -> Iterator[bytes]:
        """Yield the content of `key` in chunks of about 1 MiB."""
        check_key(key, op="read")
        skey = self._to_key(key)
        try:
            result = obstore.get(self._store, skey)
            for chunk in result.stream(min_chunk_size=1024 * 1024):
                yield bytes(chunk)
        except Exception as exc:
            if self._is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("read", skey, exc) from exc

    def list_keys(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """Yield (key, size) of the objects whose key starts with `prefix`: LIST requests only."""
        stored = self._to_key(prefix)
        listing = _listing.pages(self._store, stored, fallback=self._listing_fallback())
        pages = Prefetch(listing, name=self.list_thread)
        try:
            for page in pages:
                for meta in page:
                    yield from_key(meta["path"]), meta["size"]
        except DestinationError:
            raise
        except Exception as exc:
            raise self._error("list", stored, exc) from exc
        finally:
            pages.close()

    def fetch(self, key: str) -> tuple[ObjectInfo, Iterator[bytes]]:
        """Return the info of `key` (as `stat`) and its content, from one GET request."""
        check_key(key, op="read")
        skey = self._to_key(key)
        try:
            result = obstore.get(self._store, skey)
        except Exception as exc:
            if self._is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("read", skey, exc) from exc
        attributes = {name.lower(): str(value) for name, value in result.attributes.items()}
        meta = result.meta
        info = _meta.info_from(key, meta["size"], meta["last_modified"], attributes)
        return info, self._chunks(result, skey)

    def _chunks(self, result: Any, skey: str) -> Iterator[bytes]:
        try:
            for chunk in result.stream(min_chunk_size=1024 * 1024):
                yield bytes(chunk)
        except Exception as exc:
            raise self._error("read", skey, exc) from exc

    def read_tag(self, key: str) -> tuple[bytes, str]:
        """Return the content of `key` and its ETag (see `SupportsConditional`).

        Raises:
            FileNotFoundError: `key` does not exist.
            DestinationError: The read failed.
        """
        check_key(key, op="read")
        skey = self._to_key(key)
        try:
            result = obstore.get(self._store, skey)
            return bytes(result.bytes()), result.meta["e_tag"] or ""
        except Exception as exc:
            if self._is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("read", skey, exc) from exc

    def put_if(self, key: str, data: bytes, *, tag: str | None) -> str:
        """Store `data` under `key` with If-None-Match (tag None) or If-Match: `tag`.

        Raises:
            ConditionFailed: Another version is there; nothing was written.
            DestinationError: The write failed, or the store ignores conditional writes (found
                by `preflight`): a lease cannot be kept there.
        """
        check_key(key, op="put")
        skey = self._to_key(key)
        if not self.conditional:
            raise DestinationError("put", self._where(skey), "the store ignores conditional writes")
        for _ in range(2):
            try:
                mode: Any = "create" if tag is None else {"e_tag": self._if_match(tag)}
                return (
                    obstore.put(self._store, skey, data, mode=mode, use_multipart=False)["e_tag"]
                    or ""
                )
            except (AlreadyExistsError, PreconditionError, FileNotFoundError):
                pass
            except Exception as exc:
                raise self._error("put", skey, exc) from exc
            current = None if tag is None else self._head(skey)
            if current is None or current[0]["e_tag"] != tag or self._etag_bare:
                break
            log.info("%s: the store wants If-Match etags without quotes", self.url)
            self._etag_bare = True  # refused although unchanged: Ceph RGW 16 (see _put_small)
        raise ConditionFailed(self._where(skey))

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the clients; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._cache.close()
        self._close_clients()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------------

    # Below, `key` is a stored key (`_to_key` of a name): messages name the object as stored, and
    # the metadata cache mirrors the store.

    def _where(self, key: str) -> str:
        return self._root + key

    def _remember(self, key: str, etag: str | None, info: ObjectInfo) -> None:
        self._cache.put(_named(info, key), etag)


def _named(info: ObjectInfo, key: str) -> ObjectInfo:
    """`info` under `key` (a stored key or the name it stands for)."""
    return info if info.key == key else dataclasses.replace(info, key=key)
