"""The one Azure call obstore does not offer: Set Blob Metadata, through the Azure SDK.

A file touched or chmod-ed but not rewritten gets its new mtime and mode without sending the
content again. obstore cannot change an object's metadata in place; `azure-storage-blob` (part of
the `azure` extra) can, with If-Match on the ETag. Its client is created on first use, so a run
that changes no metadata never imports it. With credentials from the default chain it needs
`azure-identity` too (`DefaultAzureCredential`), imported only then.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsreplica.destinations.azure._config import Connection, Location

# The SDK's request logger, at INFO, prints every request's URL and headers (redacted, but whole
# lines per request): fsreplica's own log says what matters.
_SDK_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


class Control:
    """A lazily created `ContainerClient` of azure-storage-blob, bound to one container.

    Args:
        location: The container and prefix.
        connection: Account, endpoint and credentials.
    """

    def __init__(self, location: Location, connection: Connection) -> None:
        self.location = location
        self.connection = connection
        self._lock = threading.Lock()
        self._client: Any = None

    def client(self) -> Any:
        """The ContainerClient (created on first call).

        Raises:
            ImportError: azure-storage-blob (or, for the default chain, azure-identity) is
                missing; the message says what to install.
        """
        with self._lock:
            if self._client is None:
                try:
                    from azure.storage.blob import ContainerClient  # noqa: PLC0415 (slow import)
                except ImportError as exc:
                    raise ImportError(
                        f"azure metadata updates need azure-storage-blob: "
                        f"pip install 'fsreplica[azure]' ({exc})"
                    ) from exc
                logging.getLogger(_SDK_LOGGER).setLevel(logging.WARNING)
                self._client = ContainerClient(
                    self.connection.blob_endpoint,
                    self.location.container,
                    credential=self._credential(),
                    retry_total=2,
                    connection_timeout=5,
                    read_timeout=60,
                )
            return self._client

    def _credential(self) -> Any:
        conn = self.connection
        if conn.account_key:
            return {"account_name": conn.account, "account_key": conn.account_key}
        if conn.sas_token:
            return conn.sas_token
        try:
            from azure.identity import (  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: PLC0415
                DefaultAzureCredential,
            )
        except ImportError as exc:
            raise ImportError(
                f"azure metadata updates with the default credential chain need azure-identity: "
                f"pip install azure-identity ({exc})"
            ) from exc
        return DefaultAzureCredential()

    def set_metadata(self, blob: str, metadata: dict[str, str], *, if_match: str | None) -> str:
        """Replace the metadata of the stored key `blob` if its ETag is still `if_match`.

        Returns:
            The blob's new ETag.
        """
        from azure.core import MatchConditions  # noqa: PLC0415 (slow import)

        client = self.client().get_blob_client(self.location.prefix + blob)
        condition: dict[str, Any] = {}
        if if_match:
            condition = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        result = client.set_blob_metadata(metadata, **condition)
        etag: str = result["etag"]
        return etag

    def close(self) -> None:
        """Close the client's connections; idempotent."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
