"""The vocabulary of object-store failures: short, lower-case reasons, and whether to retry.

Client messages are long (request URLs, retry counts, response bodies) and may quote headers;
they are never shown as they are. Each store's classifier picks a reason from what its client
raises (an error code, an HTTP status, a transport failure named in the text) with the helpers
here, so every store words the same failure the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

# Transport failures, recognised in the text of the client's error (reqwest's, urllib3's); all of
# them are worth retrying.
TRANSPORT: tuple[tuple[str, str], ...] = (
    ("connection refused", "connection refused"),
    ("connection reset", "connection reset"),
    ("timed out", "timed out"),
    ("dns error", "host not found"),
    ("failed to lookup address", "host not found"),
    ("name or service not known", "host not found"),
    ("connection closed", "connection closed"),
    ("connection aborted", "connection closed"),
    ("remote end closed", "connection closed"),
    ("broken pipe", "connection closed"),
    ("error sending request", "cannot reach the endpoint"),
    ("max retries exceeded", "cannot reach the endpoint"),
    ("tls", "tls handshake failed"),
    ("ssl", "tls handshake failed"),
)

TRANSPORT_REASONS = frozenset(reason for _, reason in TRANSPORT)
"""Every reason `transport_reason` gives: the endpoint could not be reached or talked to."""

PRECONDITION = "precondition failed (object changed meanwhile)"


def transport_reason(text: str) -> str | None:
    """The reason for a transport failure named in `text` (any case), or None."""
    lower = text.lower()
    for needle, reason in TRANSPORT:
        if needle in lower:
            return reason
    return None


def status_reason(status: int, *, denied: str, missing: str) -> tuple[str, bool]:
    """(reason, retryable) for an HTTP status that no more precise code explained.

    Args:
        status: The HTTP status of the response.
        denied: The reason for 401 and 403 (which credentials to check).
        missing: The reason for 404 (where the request named no object: the bucket).
    """
    if status == 404:
        return missing, False
    if status in (401, 403):
        return denied, False
    if status == 412:
        return PRECONDITION, True
    if status == 429 or status >= 500:
        return f"server error (http {status})", True
    return f"request refused (http {status})", False


def unexpected(exc: BaseException) -> tuple[str, bool]:
    """(reason, retryable) for an exception nothing recognised.

    Assumed transient (the engine backs off), shown by its type only, never by its text, which
    may quote request headers.
    """
    if isinstance(exc, OSError | TimeoutError):
        return (exc.strerror or type(exc).__name__).lower(), True
    return f"unexpected error ({type(exc).__name__})", True


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Return `text` with every non-empty secret replaced by '***'."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
