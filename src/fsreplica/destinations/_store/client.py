"""obstore's HTTP client and retry settings, the same for every object store.

The client retries a failed request (connection refused, timeout, 5xx) for up to
`DEFAULT_RETRY_TIMEOUT` seconds, polling at most `MAX_BACKOFF` apart: the time binds, not the
count. The engine gives a change up after 8 attempts, a few seconds of its own backoff; without
this a server down for more than ~8 s parked changes until the next full reconcile (an hour).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig

DEFAULT_MULTIPART_THRESHOLD = 16 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
DEFAULT_UPLOAD_CONCURRENCY = 4
DEFAULT_LIST_CONCURRENCY = 32
DEFAULT_MAX_RETRIES = 100
DEFAULT_RETRY_TIMEOUT = 20.0
MAX_BACKOFF = 2.0
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_REQUEST_TIMEOUT = 300.0


def client_options(
    endpoint_url: str | None, *, connect_timeout: float, request_timeout: float
) -> ClientConfig:
    """HTTP settings: plain http only for an explicit http:// endpoint (an emulator)."""
    return {
        "allow_http": bool(endpoint_url and endpoint_url.startswith("http://")),
        "connect_timeout": timedelta(seconds=connect_timeout),
        "timeout": timedelta(seconds=request_timeout),
        "pool_max_idle_per_host": "64",
    }


def retry_config(*, max_retries: int, retry_timeout: float) -> RetryConfig:
    """Retries of one request inside the client (see the module docstring)."""
    return {
        "max_retries": max_retries,
        "retry_timeout": timedelta(seconds=retry_timeout),
        "backoff": {
            "init_backoff": timedelta(milliseconds=100),
            "max_backoff": timedelta(seconds=MAX_BACKOFF),
            "base": 2,
        },
    }
