"""S3Destination: the Destination contract on one bucket and prefix, through obstore."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import obstore
from obstore.store import S3Store

from fsreplica._names import to_key
from fsreplica.destinations._base import ObjectInfo, ObjectVersion, check_key
from fsreplica.destinations._store import meta as _meta
from fsreplica.destinations._store.cache import MetadataCache, default_path
from fsreplica.destinations._store.client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_LIST_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_TIMEOUT,
    DEFAULT_UPLOAD_CONCURRENCY,
    client_options,
    retry_config,
)
from fsreplica.destinations._store.listing import RawPages as _RawPages
from fsreplica.destinations._store.obstore_base import ObjectStoreDestination
from fsreplica.destinations.s3 import _preflight, _raw
from fsreplica.destinations.s3._config import Connection, Location, parse_url, resolve
from fsreplica.destinations.s3._control import STALE_UPLOAD_AGE, Control
from fsreplica.destinations.s3._errors import destination_error, is_missing

if TYPE_CHECKING:
    from collections.abc import Iterator

    from obstore import ObjectMeta
    from obstore.store import S3Config

    from fsreplica.errors import DestinationError

log = logging.getLogger(__name__)


class S3Destination(ObjectStoreDestination):
    """Objects in an S3 (or S3-compatible) bucket under a key prefix.

    The contract itself is `ObjectStoreDestination`'s (shared with Azure); this class opens the
    obstore store and adds what S3 needs botocore for.

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
        self.connection = connection
        if metadata_cache is True:
            identity = f"{connection.endpoint_url or 'aws'}|{location.bucket}|{location.prefix}"
            metadata_cache = default_path(identity)
        self._setup(
            url=location.url,
            cache=MetadataCache(metadata_cache or None),
            multipart_threshold=multipart_threshold,
            part_size=part_size,
            upload_concurrency=upload_concurrency,
            list_concurrency=list_concurrency,
            conditional=conditional,
        )
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
            client_options=client_options(
                conn.endpoint_url, connect_timeout=connect_timeout, request_timeout=request_timeout
            ),
            retry_config=retry_config(max_retries=max_retries, retry_timeout=retry_timeout),
            credential_provider=provider,
        )

    # -- what S3 adds --------------------------------------------------------------------------

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

    def keeps_versions(self) -> bool:
        """True when the bucket keeps earlier versions (versioning enabled or suspended)."""
        try:
            return _raw.keeps_versions(self.control.client(), self.location.bucket)
        except Exception as exc:
            raise self._error("versions", "", exc) from exc

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Yield every version and deletion of the keys that start with `prefix`."""
        client, bucket, base = self.control.client(), self.location.bucket, self.location.prefix
        try:
            yield from _raw.list_versions(client, bucket, base, to_key(prefix))
        except Exception as exc:
            raise self._error("list_versions", to_key(prefix), exc) from exc

    def stat_version(self, key: str, version: str) -> ObjectInfo:
        """Return the stored info of `version` of `key` (one HEAD request)."""
        check_key(key, op="stat")
        skey = to_key(key)
        try:
            result = obstore.get(self._store, skey, options={"head": True, "version": version})
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("stat", skey, exc) from exc
        attributes = {name.lower(): str(value) for name, value in result.attributes.items()}
        return _meta.info_from(key, result.meta["size"], result.meta["last_modified"], attributes)

    def read_version(self, key: str, version: str) -> Iterator[bytes]:
        """Yield the content of `version` of `key` in chunks of about 1 MiB."""
        check_key(key, op="read")
        skey = to_key(key)
        try:
            result = obstore.get(self._store, skey, options={"version": version})
            for chunk in result.stream(min_chunk_size=1024 * 1024):
                yield bytes(chunk)
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("read", skey, exc) from exc

    def _listing_fallback(self) -> _RawPages:
        """Botocore's listing, which names every key (see `_store.listing`)."""
        client, bucket, base = self.control.client, self.location.bucket, self.location.prefix

        def pages(directory: str, after: str | None) -> Iterator[list[ObjectMeta]]:
            return _raw.raw_pages(client(), bucket, base, directory, after)

        return pages

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

    list_thread = "fsreplica-s3-list"

    def _close_clients(self) -> None:
        self.control.close()

    def __repr__(self) -> str:
        endpoint = self.connection.endpoint_url or "aws"
        return f"S3Destination({self.url!r}, endpoint={endpoint!r})"

    def _error(self, op: str, key: str, exc: BaseException) -> DestinationError:
        return destination_error(op, self._where(key), exc)

    def _is_missing(self, exc: BaseException) -> bool:
        return is_missing(exc)
