"""S3Destination: the Destination contract on one bucket and prefix, through obstore."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import obstore
from obstore.exceptions import AlreadyExistsError, PreconditionError
from obstore.store import S3Store

from fsreplica._names import from_key, to_key
from fsreplica.destinations._base import ObjectInfo, check_key
from fsreplica.destinations._store import body as _body
from fsreplica.destinations._store import meta as _meta
from fsreplica.destinations._store.prefetch import Prefetch
from fsreplica.destinations.s3 import _listing, _preflight, _upload
from fsreplica.destinations.s3._cache import MetadataCache, default_path
from fsreplica.destinations.s3._config import Connection, Location, parse_url, resolve
from fsreplica.destinations.s3._control import STALE_UPLOAD_AGE, Control
from fsreplica.destinations.s3._errors import destination_error, is_missing
from fsreplica.errors import ConditionFailed, DestinationError, SourceChangedError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from obstore import ObjectMeta
    from obstore.store import ClientConfig, RetryConfig, S3Config

    from fsreplica.destinations._source import SourceFile

log = logging.getLogger(__name__)

DEFAULT_MULTIPART_THRESHOLD = 16 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
DEFAULT_UPLOAD_CONCURRENCY = 4
DEFAULT_LIST_CONCURRENCY = 32
# The client retries a failed request (connection refused, timeout, 5xx) for up to
# DEFAULT_RETRY_TIMEOUT seconds, polling at most MAX_BACKOFF apart: the time binds, not the count.
# The engine gives a change up after 8 attempts, a few seconds of its own backoff; without this a
# server down for more than ~8 s parked changes until the next full reconcile (an hour).
DEFAULT_MAX_RETRIES = 100
DEFAULT_RETRY_TIMEOUT = 20.0
MAX_BACKOFF = 2.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_REQUEST_TIMEOUT = 300.0
MAX_CONDITIONAL_TRIES = 4


class S3Destination:
    """Objects in an S3 (or S3-compatible) bucket under a key prefix.

    Build it with `from_url`. Thread-safe: the replication engine calls it from many workers.

    Args:
        location: The bucket and prefix.
        connection: Endpoint, region and credentials (see `from_url`).
        multipart_threshold: Files larger than this are sent as multipart uploads.
        part_size: The size of each part (grown for huge files to stay within 10,000 parts).
        upload_concurrency: Parts of one file in flight at once.
        list_concurrency: Metadata lookups in flight at once while listing.
        conditional: Use If-None-Match / If-Match so an older version never replaces a newer
            one; None means yes, unless `preflight` finds the store ignores them.
        max_retries: Retries of one request inside the client (the engine retries on top).
        retry_timeout: Seconds after which the client stops retrying a request: with the
            engine's attempts on top, how long an outage is ridden out without parking changes.
        connect_timeout: Seconds to open a connection.
        request_timeout: Seconds for one whole request.
        metadata_cache: Where to keep what is known of each object between runs (so a listing
            with nothing changed costs LIST requests only): True for a file under
            $XDG_CACHE_HOME/fsreplica/s3, a path, or False to keep it in memory only.
    """

    def __init__(
        self,
        location: Location,
        connection: Connection,
        *,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
        list_concurrency: int = DEFAULT_LIST_CONCURRENCY,
        conditional: bool | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        metadata_cache: bool | str | os.PathLike[str] = True,
    ) -> None:
        if part_size < 5 * 1024 * 1024:
            raise ValueError("part_size must be at least 5 MiB (S3's minimum part size)")
        self.location = location
        self.url = location.url
        self.connection = connection
        self.multipart_threshold = max(multipart_threshold, 0)
        self.part_size = part_size
        self.upload_concurrency = max(upload_concurrency, 1)
        self.list_concurrency = max(list_concurrency, 1)
        self.conditional = conditional is not False
        self._conditional_explicit = conditional is not None
        self._etag_bare = False
        self._lock = threading.Lock()
        if metadata_cache is True:
            identity = f"{connection.endpoint_url or 'aws'}|{location.bucket}|{location.prefix}"
            metadata_cache = default_path(identity)
        self._cache = MetadataCache(metadata_cache or None)
        self._closed = False
        self._store = self._make_store(
            max_retries=max_retries,
            retry_timeout=retry_timeout,
            connect_timeout=connect_timeout,
            request_timeout=request_timeout,
        )
        self.control = Control(location, connection)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        path_style: bool | None = None,
        profile: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
        preflight: bool = True,
        **options: Any,
    ) -> S3Destination:
        """Open `s3://bucket/prefix`.

        Args:
            url: `s3://bucket` or `s3://bucket/prefix`.
            endpoint_url: An S3-compatible endpoint (`http://127.0.0.1:7480`); else
                `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`; else AWS.
            region: Signing region; else the AWS chain's; else us-east-1.
            path_style: Path-style addressing; default: on exactly when an endpoint is given.
            profile: A profile of ~/.aws/config; else `AWS_PROFILE` or the default chain.
            access_key_id: Explicit credentials instead of the chain (for programs; people
                should prefer the environment or a profile).
            secret_access_key: The secret of `access_key_id`.
            session_token: The token of temporary explicit credentials.
            preflight: Check the bucket before returning (see `preflight`), so that
                `open_destination` fails at once with one clear line.
            **options: Keyword options of `S3Destination` (multipart_threshold, ...).

        Raises:
            ValueError: A malformed URL or endpoint.
            PreflightError: With `preflight`, the bucket cannot be used.
        """
        location = parse_url(url)
        connection = resolve(
            endpoint_url=endpoint_url,
            region=region,
            path_style=path_style,
            profile=profile,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
        )
        destination = cls(location, connection, **options)
        if preflight:
            try:
                destination.preflight()
            except BaseException:
                destination.close()
                raise
        return destination

    def _make_store(
        self,
        *,
        max_retries: int,
        retry_timeout: float,
        connect_timeout: float,
        request_timeout: float,
    ) -> S3Store:
        conn = self.connection
        config: S3Config = {
            "region": conn.region,
            "virtual_hosted_style_request": not conn.path_style,
        }
        if conn.endpoint_url:
            config["endpoint"] = conn.endpoint_url
        client: ClientConfig = {
            "allow_http": bool(conn.endpoint_url and conn.endpoint_url.startswith("http://")),
            "connect_timeout": timedelta(seconds=connect_timeout),
            "timeout": timedelta(seconds=request_timeout),
            "pool_max_idle_per_host": "64",
        }
        retry: RetryConfig = {
            "max_retries": max_retries,
            "retry_timeout": timedelta(seconds=retry_timeout),
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=MAX_BACKOFF),
                "base": 2,
            },
        }
        provider = None
        if conn.credentials is None:
            config["skip_signature"] = True
        elif conn.is_static():
            frozen = conn.credentials.get_frozen_credentials()
            config["access_key_id"] = frozen.access_key
            config["secret_access_key"] = frozen.secret_key
            if frozen.token:
                config["session_token"] = frozen.token
        else:
            provider = conn.obstore_credential
        return S3Store(
            self.location.bucket,
            prefix=self.location.prefix.rstrip("/") or None,
            config=config,
            client_options=client,
            retry_config=retry,
            credential_provider=provider,
        )

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
        skey = to_key(key)
        try:
            if source.size <= self.multipart_threshold:
                body = _body.read_whole(source)
                attributes = _meta.attributes_for(source)
                etag = self._put_small(skey, body, attributes, source)
                size = len(body)
            else:
                _body.hash_file(source)
                attributes = _meta.attributes_for(source)
                if self.conditional:
                    self._refuse_if_newer(skey, source)
                size = _upload.upload_multipart(
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
            if _meta.ctime_of(stored) > source.stat.st_ctime_ns:
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
        if current is not None and _meta.ctime_of(current[1]) > source.stat.st_ctime_ns:
            raise SourceChangedError(source.path)

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is fine."""
        check_key(key, op="delete")
        skey = to_key(key)
        self._cache.forget(skey)
        try:
            obstore.delete(self._store, skey)
        except Exception as exc:
            if is_missing(exc):
                return
            raise self._error("delete", skey, exc) from exc

    def stat(self, key: str) -> ObjectInfo:
        """Return the stored info of `key` (one HEAD request).

        Raises:
            FileNotFoundError: Nothing is stored under `key`.
            DestinationError: The request failed.
        """
        check_key(key, op="stat")
        skey = to_key(key)
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
            if is_missing(exc):
                return None
            raise self._error("stat", key, exc) from exc
        attributes = {name.lower(): str(value) for name, value in result.attributes.items()}
        return result.meta, attributes

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with `prefix`.

        One LIST request per 1,000 keys, sent from now on (before the first object is asked
        for); an object this process has not seen with the same ETag and size costs a HEAD as
        well (S3 lists no user metadata), `list_concurrency` at a time.
        """
        stored = to_key(prefix)  # a prefix of a name is a prefix of its key (a prefix code)
        pages = Prefetch(_listing.pages(self._store, stored), name="fsreplica-s3-list")
        return self._list(pages, stored)

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
            cached = self._cache.get(key, meta["e_tag"], meta["size"], modified)
            if cached is None:
                unknown[key] = (len(infos), meta)
            infos.append(None if cached is None else _named(cached, from_key(key)))
        if unknown:
            keys = tuple(unknown)
            results = _listing.head_all(self._store, keys, concurrency=self.list_concurrency)
            for key, result in zip(keys, results, strict=True):
                if isinstance(result, BaseException):
                    if is_missing(result):
                        continue  # deleted since the LIST
                    raise self._error("list", key, result) from result
                head, attributes = result
                found = _meta.info_from(key, head["size"], head["last_modified"], attributes)
                at, listed = unknown[key]
                modified = listed["last_modified"].isoformat()
                self._cache.put(
                    found, head["e_tag"], modified if head["e_tag"] == listed["e_tag"] else None
                )
                infos[at] = _named(found, from_key(key))
        for info in infos:
            if info is not None:
                yield info

    # -- optional capabilities ---------------------------------------------------------------

    def copy(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Copy `src_key` to `dst_key` inside the bucket (server-side, metadata kept)."""
        check_key(src_key, op="copy")
        check_key(dst_key, op="copy")
        return self._copy(to_key(src_key), to_key(dst_key), op="copy")

    def _copy(self, src_key: str, dst_key: str, *, op: str) -> ObjectInfo:
        """Copy between stored keys; the info is named by the name `dst_key` stands for."""
        try:
            obstore.copy(self._store, src_key, dst_key)
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(from_key(src_key)) from None
            raise self._error(op, src_key, exc) from exc
        # S3's CopyObject answers no metadata; one HEAD gives the copy's ETag and info.
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
        info = self._copy(to_key(src_key), to_key(dst_key), op="rename")
        self.delete(src_key)
        return info

    def set_metadata(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo:
        """Record a new mtime (and mode) without sending the content again.

        Raises:
            FileNotFoundError: `key` does not exist.
            DestinationError: The update failed (objects over 5 GiB cannot be updated in place).
        """
        check_key(key, op="set_metadata")
        skey = to_key(key)
        current = self._head(skey)
        if current is None:
            raise FileNotFoundError(key)
        meta, attributes = current
        updated = dict(attributes)
        updated[_meta.MTIME] = _meta.format_mtime(mtime_ns)
        if mode is not None:
            updated[_meta.MODE] = _meta.mode_text(mode)
        updated.pop("content-type", None)
        try:
            etag = self.control.replace_metadata(skey, updated, if_match=meta["e_tag"])
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("set_metadata", skey, exc) from exc
        info = _meta.info_from(key, meta["size"], meta["last_modified"], updated)
        self._remember(skey, etag, info)
        return info

    def read(self, key: str) -> Iterator[bytes]:
        """Yield the content of `key` in chunks of about 1 MiB."""
        check_key(key, op="read")
        skey = to_key(key)
        try:
            result = obstore.get(self._store, skey)
            for chunk in result.stream(min_chunk_size=1024 * 1024):
                yield bytes(chunk)
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("read", skey, exc) from exc

    def read_tag(self, key: str) -> tuple[bytes, str]:
        """Return the content of `key` and its ETag (see `SupportsConditional`).

        Raises:
            FileNotFoundError: `key` does not exist.
            DestinationError: The read failed.
        """
        check_key(key, op="read")
        skey = to_key(key)
        try:
            result = obstore.get(self._store, skey)
            return bytes(result.bytes()), result.meta["e_tag"] or ""
        except Exception as exc:
            if is_missing(exc):
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
        skey = to_key(key)
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

    # -- setup and teardown --------------------------------------------------------------------

    def preflight(self) -> None:
        """Check the bucket is reachable, exists and accepts writes; tidy up after crashes.

        Also finds out whether the store honours conditional writes (when `conditional` was not
        given explicitly) and aborts multipart uploads left under the prefix for a day or more.

        Raises:
            PreflightError: One line saying what is wrong (`s3://bucket: access denied ...`).
        """
        supported = None
        if self.connection.credentials is not None:
            # Fails fast: a failure is looked into again, slowly and precisely, by botocore.
            store = self._make_store(
                max_retries=0, retry_timeout=1.0, connect_timeout=5.0, request_timeout=30.0
            )
            supported = _preflight.probe(store)
        if supported is None:
            supported = self.control.preflight()
        elif _preflight.sweep_due(self._cache):
            self.control.abort_incomplete(older_than=STALE_UPLOAD_AGE)
        if not self._conditional_explicit and not supported:
            log.warning("%s: the store ignores conditional writes; overwriting", self.url)
            self.conditional = False

    def close(self) -> None:
        """Release the clients; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._cache.close()
        self.control.close()

    def __enter__(self) -> S3Destination:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        endpoint = self.connection.endpoint_url or "aws"
        return f"S3Destination({self.url!r}, endpoint={endpoint!r})"

    # -- helpers ---------------------------------------------------------------------------------

    # Below, `key` is a stored key (`to_key` of a name): messages name the object as stored, and
    # the metadata cache mirrors the bucket.

    def _where(self, key: str) -> str:
        return f"s3://{self.location.bucket}/{self.location.prefix}{key}"

    def _error(self, op: str, key: str, exc: BaseException) -> DestinationError:
        return destination_error(op, self._where(key), exc)

    def _remember(self, key: str, etag: str | None, info: ObjectInfo) -> None:
        self._cache.put(_named(info, key), etag)


def _named(info: ObjectInfo, key: str) -> ObjectInfo:
    """`info` under `key` (a stored key or the name it stands for)."""
    return info if info.key == key else dataclasses.replace(info, key=key)
