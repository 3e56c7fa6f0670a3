"""GCSDestination: the Destination contract on one bucket and prefix, through the JSON API."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from typing import TYPE_CHECKING, Any

from google.api_core.exceptions import RequestRangeNotSatisfiable

from fsreplica._names import from_key, to_key
from fsreplica.destinations._base import LEASE_KEY, ObjectInfo, check_key
from fsreplica.destinations._store import body as _body
from fsreplica.destinations._store import meta as _meta
from fsreplica.destinations._store.prefetch import Prefetch
from fsreplica.destinations.gcs import _upload
from fsreplica.destinations.gcs._client import calls, make_client
from fsreplica.destinations.gcs._config import Connection, Location, parse_url, resolve
from fsreplica.destinations.gcs._errors import (
    destination_error,
    is_missing,
    is_precondition,
)
from fsreplica.destinations.gcs._generations import Generations
from fsreplica.destinations.gcs._preflight import NO_CREDENTIALS, preflight
from fsreplica.errors import (
    ConditionFailed,
    DestinationError,
    PreflightError,
    SourceChangedError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fsreplica.destinations._source import SourceFile

log = logging.getLogger(__name__)

DEFAULT_RESUMABLE_THRESHOLD = 16 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
# Transient failures are retried inside the client for this long (the engine retries on top);
# see the S3 destination's DEFAULT_RETRY_TIMEOUT for why the time binds, not a count.
DEFAULT_RETRY_TIMEOUT = 20.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 120.0
MAX_CONDITIONAL_TRIES = 4
PAGE_SIZE = 1000
READ_CHUNK = 4 * 1024 * 1024
_LIST_FIELDS = "items(name,size,updated,generation,metadata),nextPageToken"
_OCTETS = "application/octet-stream"

Page = list[Any]
"""A page of a listing: google-cloud-storage Blobs."""


class GCSDestination:
    """Objects in a Google Cloud Storage bucket under a name prefix.

    Build it with `from_url`. Thread-safe: the replication engine calls it from many workers.

    Args:
        location: The bucket and prefix.
        connection: Endpoint, credentials and project (see `from_url`).
        resumable_threshold: Files larger than this go as resumable uploads, in chunks.
        chunk_size: The size of each chunk of a resumable upload (rounded up to 256 KiB).
        conditional: Write with `if_generation_match`, so an older version never replaces a
            newer one; None means yes, unless `preflight` finds the store ignores it.
        retry_timeout: Seconds the client retries a request that failed for a transient reason.
        connect_timeout: Seconds to open a connection.
        read_timeout: Seconds to wait for each read of a response.
    """

    def __init__(
        self,
        location: Location,
        connection: Connection,
        *,
        resumable_threshold: int = DEFAULT_RESUMABLE_THRESHOLD,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        conditional: bool | None = None,
        retry_timeout: float = DEFAULT_RETRY_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.location = location
        self.url = location.url
        self.connection = connection
        self.resumable_threshold = max(resumable_threshold, 0)
        self.chunk_size = _upload.chunk_size_for(chunk_size)
        self.conditional = conditional is not False
        self._conditional_explicit = conditional is not None
        self._calls = calls(
            retry_timeout=retry_timeout,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._generations = Generations()
        self._lock = threading.Lock()
        self._closed = False
        if connection.credentials is None:
            raise PreflightError(f"gs://{location.bucket}", NO_CREDENTIALS)
        self._client = make_client(connection)
        self._bucket = self._client.bucket(location.bucket)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        credentials_file: str | os.PathLike[str] | None = None,
        project: str | None = None,
        credentials: Any = None,
        preflight: bool = True,
        **options: Any,
    ) -> GCSDestination:
        """Open `gs://bucket/prefix`.

        Args:
            url: `gs://bucket` or `gs://bucket/prefix`.
            endpoint_url: Another endpoint of the JSON API (`http://127.0.0.1:4443` for an
                emulator); else `STORAGE_EMULATOR_HOST`; else Google's.
            credentials_file: A credentials file instead of `GOOGLE_APPLICATION_CREDENTIALS`
                and the application-default credentials.
            project: The project (objects need none); else `GOOGLE_CLOUD_PROJECT`.
            credentials: A google-auth credentials object to use instead of finding them (for
                programs; `google.auth.credentials.AnonymousCredentials()` for an emulator).
            preflight: Check the bucket before returning (see `preflight`), so that
                `open_destination` fails at once with one clear line.
            **options: Keyword options of `GCSDestination` (resumable_threshold, ...).

        Raises:
            ValueError: A malformed URL or endpoint.
            PreflightError: No credentials, a credentials file that cannot be used, or with
                `preflight`, a bucket that cannot be used.
        """
        location = parse_url(url)
        connection = resolve(
            location,
            endpoint_url=endpoint_url,
            credentials_file=credentials_file,
            project=project,
            credentials=credentials,
        )
        destination = cls(location, connection, **options)
        if preflight:
            try:
                destination.preflight()
            except BaseException:
                destination.close()
                raise
        return destination

    # -- the contract ----------------------------------------------------------------------

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        """Store `source` under `key` (see `Destination.put`).

        With conditional writes, an object is created with `if_generation_match=0` or replaces
        the generation last seen; a stored version whose source ctime is newer than this one's
        is never replaced (SourceChangedError: the file changed since it was opened).

        Raises:
            SourceChangedError: The source changed, or a newer version is already stored.
            DestinationError: The upload failed.
        """
        check_key(key, op="put")
        name = self._name(key)
        try:
            if source.size <= self.resumable_threshold:
                body: bytes | None = _body.read_whole(source)
            else:
                body = None
                _body.hash_file(source)
            attributes = _meta.attributes_for(source)
            blob = self._put(name, body, attributes, source)
        except (SourceChangedError, DestinationError):
            raise
        except Exception as exc:
            raise self._error("put", name, exc) from exc
        info = ObjectInfo(key, source.size, source.mtime_ns, source.mode, source.sha256)
        self._generations.set(name, blob.generation)
        return info

    def _put(
        self, name: str, body: bytes | None, attributes: dict[str, str], source: SourceFile
    ) -> Any:
        """Upload to `name`, conditionally if asked; return the Blob with its new generation."""
        expected = self._generations.get(name) if self.conditional else None
        if self.conditional and body is None:
            expected = self._check_newer(name, source)  # before sending a large file
        for _ in range(MAX_CONDITIONAL_TRIES):
            blob = self._bucket.blob(name)
            blob.metadata = attributes
            generation = None if not self.conditional else (expected or 0)
            try:
                if body is not None:
                    blob.upload_from_string(
                        body,
                        content_type=_OCTETS,
                        if_generation_match=generation,
                        **self._calls.kwargs,
                    )
                else:
                    _upload.upload_resumable(
                        blob,
                        source,
                        chunk_size=self.chunk_size,
                        generation=generation,
                        **self._calls.kwargs,
                    )
                return blob
            except Exception as exc:
                if not (self.conditional and is_precondition(exc)):
                    raise
            expected = self._check_newer(name, source)  # exists / changed since last seen
        raise DestinationError("put", self._where(name), "object keeps changing", retryable=True)

    def _check_newer(self, name: str, source: SourceFile) -> int | None:
        """The stored generation of `name` (None: absent); refuse to replace a newer version."""
        current = self._get(name, op="put")
        if current is None:
            return None
        if _meta.ctime_of(current.metadata or {}) > source.stat.st_ctime_ns:
            raise SourceChangedError(source.path)
        generation: int = current.generation
        return generation

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is fine."""
        check_key(key, op="delete")
        name = self._name(key)
        self._generations.forget(name)
        try:
            self._bucket.delete_blob(name, **self._calls.kwargs)
        except Exception as exc:
            if is_missing(exc):
                return
            raise self._error("delete", name, exc) from exc

    def stat(self, key: str) -> ObjectInfo:
        """Return the stored info of `key` (one request).

        Raises:
            FileNotFoundError: Nothing is stored under `key`.
            DestinationError: The request failed.
        """
        check_key(key, op="stat")
        blob = self._get(self._name(key), op="stat")
        if blob is None:
            raise FileNotFoundError(key)
        return self._info(key, blob)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Yield every object whose key starts with `prefix`, in key order.

        One request per 1,000 objects (the JSON API lists the custom metadata too), fetched
        ahead from now on in a thread of its own.
        """
        names = self.location.prefix + to_key(prefix)  # a prefix of a name: of its key too
        pages = Prefetch(self._pages(names), name="fsreplica-gcs-list")
        return self._list(pages, names)

    def _pages(self, prefix: str) -> Iterator[Page]:
        iterator = self._client.list_blobs(
            self._bucket,
            prefix=prefix,
            page_size=PAGE_SIZE,
            fields=_LIST_FIELDS,
            **self._calls.kwargs,
        )
        for page in iterator.pages:
            yield list(page)

    def _list(self, pages: Prefetch[Page], prefix: str) -> Iterator[ObjectInfo]:
        start = len(self.location.prefix)
        try:
            for page in pages:
                for blob in page:
                    if blob.name[start:] != LEASE_KEY:  # never an object of the tree
                        yield self._info(from_key(blob.name[start:]), blob)
        except DestinationError:
            raise
        except Exception as exc:
            raise self._error("list", prefix[start:], exc) from exc
        finally:
            pages.close()

    # -- optional capabilities ---------------------------------------------------------------

    def copy(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Copy `src_key` to `dst_key` inside the bucket (a server-side rewrite, metadata kept)."""
        check_key(src_key, op="copy")
        check_key(dst_key, op="copy")
        return self._copy(src_key, dst_key, op="copy")

    def _copy(self, src_key: str, dst_key: str, *, op: str) -> ObjectInfo:
        src, dst = self._bucket.blob(self._name(src_key)), self._bucket.blob(self._name(dst_key))
        try:
            token = None
            while True:  # a large object may take several calls
                token, _, _ = dst.rewrite(src, token=token, **self._calls.kwargs)
                if token is None:
                    break
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(src_key) from None
            raise self._error(op, src.name, exc) from exc
        return self._info(dst_key, dst)

    def rename(self, src_key: str, dst_key: str) -> ObjectInfo:
        """Move `src_key` to `dst_key`: a server-side rewrite, then a delete of the source."""
        check_key(src_key, op="rename")
        check_key(dst_key, op="rename")
        info = self._copy(src_key, dst_key, op="rename")
        self.delete(src_key)
        return info

    def set_metadata(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo:
        """Record a new mtime (and mode) without sending the content again (a PATCH).

        It applies to the generation just read (`if_generation_match`), so a newer content
        written meanwhile is never given this metadata.

        Raises:
            FileNotFoundError: `key` does not exist.
            DestinationError: The update failed.
        """
        check_key(key, op="set_metadata")
        name = self._name(key)
        blob = self._get(name, op="set_metadata")
        if blob is None:
            raise FileNotFoundError(key)
        updated = dict(blob.metadata or {})
        updated[_meta.MTIME] = _meta.format_mtime(mtime_ns)
        if mode is not None:
            updated[_meta.MODE] = _meta.mode_text(mode)
        blob.metadata = updated
        try:
            blob.patch(if_generation_match=blob.generation, **self._calls.kwargs)
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("set_metadata", name, exc) from exc
        return self._info(key, blob)

    def read(self, key: str) -> Iterator[bytes]:
        """Yield the content of `key` in chunks of 4 MiB, one ranged GET each.

        A small object is one request. The later ranges are read from the generation the first
        one came from, so a version written meanwhile is never mixed in: it fails the read
        (retryable), which the caller tries again.
        """
        check_key(key, op="read")
        name = self._name(key)
        blob = self._bucket.blob(name)
        start, generation = 0, None
        try:
            while True:
                try:
                    chunk = blob.download_as_bytes(
                        start=start,
                        end=start + READ_CHUNK - 1,
                        if_generation_match=generation,
                        checksum=None,  # a range has no checksum to check; sha256 is recorded
                        **self._calls.kwargs,
                    )
                except RequestRangeNotSatisfiable:
                    return  # the object ended exactly at the last chunk
                generation = generation or blob.generation
                if chunk:
                    yield chunk
                if len(chunk) < READ_CHUNK:
                    return
                start += len(chunk)
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("read", name, exc) from exc

    def read_tag(self, key: str) -> tuple[bytes, str]:
        """Return the content of `key` and its generation, as text (see `SupportsConditional`).

        Raises:
            FileNotFoundError: `key` does not exist.
            DestinationError: The read failed.
        """
        check_key(key, op="read")
        name = self._name(key)
        for _ in range(MAX_CONDITIONAL_TRIES):
            blob = self._get(name, op="read")
            if blob is None:
                raise FileNotFoundError(key)
            try:
                # The generation just seen: a newer one written in between is read again.
                data = blob.download_as_bytes(
                    if_generation_match=blob.generation, **self._calls.kwargs
                )
            except Exception as exc:
                if is_missing(exc) or is_precondition(exc):
                    continue
                raise self._error("read", name, exc) from exc
            return data, str(blob.generation)
        raise DestinationError("read", self._where(name), "object keeps changing", retryable=True)

    def put_if(self, key: str, data: bytes, *, tag: str | None) -> str:
        """Store `data` under `key` if its generation is still `tag` (None: only if absent).

        Raises:
            ConditionFailed: Another generation is there; nothing was written.
            DestinationError: The write failed, or the store ignores conditional writes (found
                by `preflight`): a lease cannot be kept there.
        """
        check_key(key, op="put")
        name = self._name(key)
        if not self.conditional:
            raise DestinationError("put", self._where(name), "the store ignores conditional writes")
        try:
            generation = 0 if tag is None else int(tag)
        except ValueError:
            raise ConditionFailed(self._where(name), "not a generation of this store") from None
        blob = self._bucket.blob(name)
        try:
            blob.upload_from_string(
                data, content_type=_OCTETS, if_generation_match=generation, **self._calls.kwargs
            )
        except Exception as exc:
            if is_precondition(exc):
                raise ConditionFailed(self._where(name)) from None
            raise self._error("put", name, exc) from exc
        self._generations.set(name, blob.generation)
        return str(blob.generation)

    # -- setup and teardown --------------------------------------------------------------------

    def preflight(self) -> None:
        """Check the bucket is reachable, exists and accepts writes.

        Also finds out whether the store honours `if_generation_match` (when `conditional` was
        not given explicitly).

        Raises:
            PreflightError: One line saying what is wrong (`gs://bucket: access denied ...`).
        """
        quick = calls(retry_timeout=0, connect_timeout=5.0, read_timeout=30.0)
        probe = f"{self.location.prefix}.fsreplica-probe-{uuid.uuid4().hex}"
        supported = preflight(self.location, self.connection, self._client, probe, quick)
        if not self._conditional_explicit and not supported:
            log.warning("%s: the store ignores conditional writes; overwriting", self.url)
            self.conditional = False

    def close(self) -> None:
        """Release the client's connections; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._client.close()

    def __enter__(self) -> GCSDestination:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        endpoint = self.connection.endpoint or "google"
        return f"GCSDestination({self.url!r}, endpoint={endpoint!r})"

    # -- helpers ---------------------------------------------------------------------------------

    # Below, `name` is an object name: the prefix and the stored key (`to_key` of a key).

    def _name(self, key: str) -> str:
        return self.location.prefix + to_key(key)

    def _where(self, name: str) -> str:
        return f"gs://{self.location.bucket}/{name}"

    def _error(self, op: str, name: str, exc: BaseException) -> DestinationError:
        return destination_error(op, self._where(name), exc)

    def _get(self, name: str, *, op: str) -> Any:
        """The Blob of `name` with its metadata, or None when it does not exist."""
        try:
            blob = self._bucket.get_blob(name, **self._calls.kwargs)
        except Exception as exc:
            if is_missing(exc):
                return None
            raise self._error(op, name, exc) from exc
        if blob is not None:
            self._generations.set(name, blob.generation)
        return blob

    def _info(self, key: str, blob: Any) -> ObjectInfo:
        self._generations.set(blob.name, blob.generation)
        return _meta.info_from(key, int(blob.size or 0), blob.updated, blob.metadata or {})
