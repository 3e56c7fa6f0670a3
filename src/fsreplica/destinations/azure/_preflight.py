"""Preflight: a usable container, or one line saying why not.

A LIST of a prefix nothing uses (the container exists and can be read), a PUT of an empty probe
blob with If-None-Match, the same PUT again (refused when the store honours conditional writes)
and a DELETE. Azure's error bodies name the cause precisely (`ContainerNotFound`,
`AuthenticationFailed`, ...), so obstore's errors are enough to say what is wrong. Uncommitted
blocks of interrupted uploads need no sweep: Azure discards them after a week.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import AlreadyExistsError, PreconditionError

from fsreplica.destinations.azure._errors import classify
from fsreplica.errors import PreflightError

if TYPE_CHECKING:
    from obstore.store import AzureStore

    from fsreplica.destinations.azure._config import Connection

PROBE_PREFIX = ".fsreplica-probe-"
_UNREACHABLE = frozenset(
    {
        "connection refused",
        "connection reset",
        "connection closed",
        "timed out",
        "host not found",
        "cannot reach the endpoint",
        "tls handshake failed",
    }
)


def probe(store: AzureStore, *, where: str, connection: Connection) -> bool:
    """Check the container can be listed and written.

    Args:
        store: A store that fails fast (no retries).
        where: `az://container`, for the message.
        connection: Where requests go and which credentials they carry, for the message.

    Returns:
        Whether the store honours If-None-Match on PUT.

    Raises:
        PreflightError: One line saying what is wrong.
    """
    key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    try:
        obstore.list_with_delimiter(store, f"{key}/")
    except Exception as exc:
        raise _error(where, exc, connection) from None
    try:
        obstore.put(store, key, b"", mode="create", use_multipart=False)
    except Exception as exc:
        raise _error(where, exc, connection, writing=True) from None
    try:
        obstore.put(store, key, b"", mode="create", use_multipart=False)
        supported = False
    except (AlreadyExistsError, PreconditionError):
        supported = True
    except Exception as exc:
        raise _error(where, exc, connection, writing=True) from None
    finally:
        with contextlib.suppress(Exception):  # a probe left behind is an empty blob
            obstore.delete(store, key)
    return supported


def _error(
    where: str, exc: BaseException, connection: Connection, *, writing: bool = False
) -> PreflightError:
    reason, retryable = classify(exc)
    if reason in _UNREACHABLE:
        return PreflightError(
            where, f"cannot reach {connection.blob_endpoint} ({reason})", retryable=True
        )
    if reason.startswith("access denied"):
        if writing:
            reason = "write access denied (check the credentials' permissions)"
        elif connection.uses_chain:
            reason = (
                "access denied (no credentials found? set AZURE_STORAGE_ACCOUNT_KEY, "
                "AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING)"
            )
        else:
            reason = f"access denied (check {connection.source})"
    return PreflightError(where, reason, retryable=retryable)
