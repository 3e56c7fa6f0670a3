"""Turning google-cloud-storage's exceptions into the contract's errors, in the shared vocabulary.

The client raises `google.api_core` exceptions for HTTP errors (with the status as `code`),
requests' exceptions for transport failures (their text names the cause: "Connection refused"),
google-auth's when credentials cannot be refreshed, and a `RetryError` holding the last of these
when its retries ran out.
"""

from __future__ import annotations

from google.api_core import exceptions as api
from google.auth import exceptions as auth

from fsreplica.destinations._store.errors import status_reason, transport_reason, unexpected
from fsreplica.errors import DestinationError

DENIED = "access denied (check GOOGLE_APPLICATION_CREDENTIALS)"
REFUSED = "credentials refused (check GOOGLE_APPLICATION_CREDENTIALS)"
MISSING_BUCKET = "bucket does not exist"


def unwrap(exc: BaseException) -> BaseException:
    """The failure behind a `RetryError` (retries ran out) or a transport wrapper."""
    seen = 0
    while seen < 8:
        seen += 1
        if isinstance(exc, api.RetryError) and exc.cause is not None:
            exc = exc.cause
        elif isinstance(exc, auth.TransportError) and exc.args and isinstance(exc.args[0], OSError):
            exc = exc.args[0]
        else:
            break
    return exc


def classify(exc: BaseException) -> tuple[str, bool]:
    """Return (reason, retryable) for a client exception.

    Args:
        exc: What google-cloud-storage, google-auth or requests raised.
    """
    token = _token_failure(exc)
    if token is not None:
        return token
    exc = unwrap(exc)
    if isinstance(exc, api.GoogleAPICallError) and exc.code is not None:
        return status_reason(int(exc.code), denied=DENIED, missing=MISSING_BUCKET)
    if isinstance(exc, auth.DefaultCredentialsError):
        return REFUSED, False
    response = getattr(exc, "response", None)  # google-resumable-media's InvalidResponse
    status = getattr(response, "status_code", None)
    if isinstance(status, int):
        return status_reason(status, denied=DENIED, missing=MISSING_BUCKET)
    reason = transport_reason(str(exc))
    if reason is not None:
        return reason, True
    return unexpected(exc)


def _token_failure(exc: BaseException) -> tuple[str, bool] | None:
    """(reason, retryable) when getting an access token failed, not the request itself."""
    while isinstance(exc, api.RetryError) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, auth.RefreshError | auth.TransportError):
        # google-auth wraps what the token endpoint's transport raised (requests' errors).
        reason = transport_reason(str(exc.args[0] if exc.args else exc))
        if reason is not None:
            return f"cannot get a token: {reason}", True
        if isinstance(exc, auth.RefreshError):
            return REFUSED, False
    return None


def is_missing(exc: BaseException) -> bool:
    """Whether `exc` says the object does not exist (a 404)."""
    exc = unwrap(exc)
    if isinstance(exc, api.NotFound):
        return True
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) == 404


def is_precondition(exc: BaseException) -> bool:
    """Whether `exc` is a refused `if_generation_match` (412)."""
    exc = unwrap(exc)
    if isinstance(exc, api.PreconditionFailed):
        return True
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) == 412


def destination_error(op: str, url: str, exc: BaseException) -> DestinationError:
    """Wrap `exc` as a DestinationError for `op` on `url`."""
    reason, retryable = classify(exc)
    return DestinationError(op, url, reason, retryable=retryable)
