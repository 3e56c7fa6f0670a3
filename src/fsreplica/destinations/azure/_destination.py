"""AzureDestination: the Destination contract on one Azure Blob Storage container (obstore)."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from obstore.store import AzureStore

from fsreplica._names import to_blob_key
from fsreplica.destinations._base import ObjectInfo, check_key
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
from fsreplica.destinations._store.obstore_base import ObjectStoreDestination
from fsreplica.destinations.azure import _preflight
from fsreplica.destinations.azure._config import Connection, Location, parse_url, resolve
from fsreplica.destinations.azure._control import Control
from fsreplica.destinations.azure._errors import destination_error, is_missing

if TYPE_CHECKING:
    from obstore.store import AzureConfig

    from fsreplica.errors import DestinationError

log = logging.getLogger(__name__)

MIN_PART_SIZE = 1024 * 1024


class AzureDestination(ObjectStoreDestination):
    """Blobs in an Azure Blob Storage container under a name prefix.

    Build it with `from_url`. Thread-safe: the replication engine calls it from many workers.

    Args:
        location: The container and prefix.
        connection: Account, endpoint and credentials (see `from_url`).
        multipart_threshold: Files larger than this are sent as blocks and a block list.
        part_size: The size of each block (grown for huge files to stay within 10,000 blocks).
        upload_concurrency: Blocks of one file in flight at once.
        list_concurrency: Metadata lookups in flight at once while listing.
        conditional: Use If-None-Match / If-Match so an older version never replaces a newer
            one; None means yes, unless `preflight` finds the store ignores them.
        max_retries: Retries of one request inside the client (the engine retries on top).
        retry_timeout: Seconds after which the client stops retrying a request.
        connect_timeout: Seconds to open a connection.
        request_timeout: Seconds for one whole request.
        metadata_cache: Where to keep what is known of each blob between runs (so a listing
            with nothing changed costs LIST requests only): True for a file under
            $XDG_CACHE_HOME/fsreplica/azure, a path, or False to keep it in memory only.
    """

    ctime_name = _meta.CTIME_IDENTIFIER  # Azure metadata names are C# identifiers

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
        if part_size < MIN_PART_SIZE:
            raise ValueError("part_size must be at least 1 MiB")
        self.location = location
        self.connection = connection
        if metadata_cache is True:
            identity = f"{connection.blob_endpoint}|{location.container}|{location.prefix}"
            metadata_cache = default_path(identity, kind="azure")
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
        account_name: str | None = None,
        account_key: str | None = None,
        sas_token: str | None = None,
        connection_string: str | None = None,
        preflight: bool = True,
        **options: Any,
    ) -> AzureDestination:
        """Open `az://container/prefix`.

        Args:
            url: `az://container` or `az://container/prefix`.
            endpoint_url: The blob endpoint of an emulator or a sovereign cloud
                (`http://127.0.0.1:10000/devstoreaccount1`); else the connection string's,
                else `AZURE_STORAGE_ENDPOINT`, else `https://ACCOUNT.blob.core.windows.net`.
            account_name: The storage account; else the environment's.
            account_key: Its shared key (for programs; people should prefer the environment).
            sas_token: A shared access signature instead of the key.
            connection_string: A connection string instead of all of the above.
            preflight: Check the container before returning (see `preflight`), so that
                `open_destination` fails at once with one clear line.
            **options: Keyword options of `AzureDestination` (multipart_threshold, ...).

        Raises:
            ValueError: A malformed URL or endpoint.
            PreflightError: No account is named, or, with `preflight`, the container cannot
                be used.
        """
        location = parse_url(url)
        connection = resolve(
            where=location.url,
            endpoint_url=endpoint_url,
            account_name=account_name,
            account_key=account_key,
            sas_token=sas_token,
            connection_string=connection_string,
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
    ) -> AzureStore:
        conn = self.connection
        # Everything explicit: obstore would otherwise also read AZURE_* variables of its own.
        config: AzureConfig = {"account_name": conn.account}
        if conn.endpoint_url:
            config["endpoint"] = conn.endpoint_url
        if conn.account_key:
            config["account_key"] = conn.account_key
            config["credential_type"] = "access_key"
        elif conn.sas_token:
            config["sas_key"] = conn.sas_token
            config["credential_type"] = "sas_token"
        return AzureStore(
            self.location.container,
            prefix=self.location.prefix.rstrip("/") or None,
            config=config,
            client_options=client_options(
                conn.endpoint_url, connect_timeout=connect_timeout, request_timeout=request_timeout
            ),
            retry_config=retry_config(max_retries=max_retries, retry_timeout=retry_timeout),
        )

    # -- what Azure adds -----------------------------------------------------------------------

    def set_metadata(self, key: str, *, mtime_ns: int, mode: int | None) -> ObjectInfo:
        """Record a new mtime (and mode) without sending the content again (Set Blob Metadata).

        Raises:
            FileNotFoundError: `key` does not exist.
            DestinationError: The update failed.
        """
        check_key(key, op="set_metadata")
        skey = self._to_key(key)
        current = self._head(skey)
        if current is None:
            raise FileNotFoundError(key)
        meta, attributes = current
        updated = {name: value for name, value in attributes.items() if name != "content-type"}
        updated[_meta.MTIME] = _meta.format_mtime(mtime_ns)
        if mode is not None:
            updated[_meta.MODE] = format(0o100000 | mode, "o")
        try:
            etag = self.control.set_metadata(skey, updated, if_match=meta["e_tag"])
        except ImportError:
            raise
        except Exception as exc:
            if is_missing(exc):
                raise FileNotFoundError(key) from None
            raise self._error("set_metadata", skey, exc) from exc
        info = _meta.info_from(key, meta["size"], meta["last_modified"], updated)
        self._remember(skey, etag, info)
        return info

    # -- setup and teardown --------------------------------------------------------------------

    def preflight(self) -> None:
        """Check the container is reachable, exists and accepts writes.

        Also finds out whether the store honours conditional writes (when `conditional` was not
        given explicitly).

        Raises:
            PreflightError: One line saying what is wrong (`az://container: container does not
                exist`).
        """
        store = self._make_store(
            max_retries=0, retry_timeout=1.0, connect_timeout=5.0, request_timeout=30.0
        )
        where = f"az://{self.location.container}"
        supported = _preflight.probe(store, where=where, connection=self.connection)
        if not self._conditional_explicit and not supported:
            log.warning("%s: the store ignores conditional writes; overwriting", self.url)
            self.conditional = False

    def _close_clients(self) -> None:
        self.control.close()

    def __repr__(self) -> str:
        return f"AzureDestination({self.url!r}, endpoint={self.connection.blob_endpoint!r})"

    def _to_key(self, name: str) -> str:
        return to_blob_key(name)

    def _error(self, op: str, key: str, exc: BaseException) -> DestinationError:
        return destination_error(op, self._where(key), exc)

    def _is_missing(self, exc: BaseException) -> bool:
        return is_missing(exc)
