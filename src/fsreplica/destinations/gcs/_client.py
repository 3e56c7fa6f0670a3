"""The google-cloud-storage client of one destination: its HTTP pool, retries and timeouts.

One client serves every worker thread: its requests session keeps a pool of connections per host,
sized here for as many workers as the engine runs (requests' default of 10 would make the others
open and close a connection per request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsreplica.destinations.gcs._config import Connection

POOL_SIZE = 64
MAX_BACKOFF = 2.0


@dataclass(frozen=True, slots=True)
class Calls:
    """The keyword arguments every client call takes: `retry` and `timeout`.

    Attributes:
        retry: A google.api_core Retry, or None for a single try.
        timeout: (connect, read) seconds.
    """

    retry: Any
    timeout: tuple[float, float]

    @property
    def kwargs(self) -> dict[str, Any]:
        """As keyword arguments."""
        return {"retry": self.retry, "timeout": self.timeout}


def calls(*, retry_timeout: float, connect_timeout: float, read_timeout: float) -> Calls:
    """Retries of transient failures (connection refused, timeouts, 429, 5xx) for a while.

    Args:
        retry_timeout: Seconds after which a request is not tried again (0: a single try).
        connect_timeout: Seconds to open a connection.
        read_timeout: Seconds to wait for each read of a response.
    """
    from google.cloud.storage.retry import (  # type: ignore[import-untyped]  # noqa: PLC0415
        DEFAULT_RETRY,
    )

    retry = None
    if retry_timeout > 0:
        retry = DEFAULT_RETRY.with_timeout(retry_timeout).with_delay(
            initial=0.1, maximum=MAX_BACKOFF, multiplier=2.0
        )
    return Calls(retry, (connect_timeout, read_timeout))


def make_client(connection: Connection) -> Any:
    """A storage Client for `connection` (its endpoint, credentials and project)."""
    import requests  # noqa: PLC0415
    from google.auth.transport.requests import AuthorizedSession  # noqa: PLC0415
    from google.cloud import storage  # type: ignore[import-untyped]  # noqa: PLC0415

    session = AuthorizedSession(connection.credentials)  # type: ignore[no-untyped-call]
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    options = {"api_endpoint": connection.endpoint} if connection.endpoint else None
    return storage.Client(
        project=connection.project,
        credentials=connection.credentials,
        _http=session,
        client_options=options,
    )
