"""Turning client exceptions into the contract's errors: short, lower-case, secret-free.

obstore's messages are long (the request URL, retry counts, the XML body) and botocore's name the
operation in CamelCase; neither is shown as is. A reason is picked from a small vocabulary by the
exception type, the S3 error code or the HTTP status, and whatever text is kept is scrubbed of the
credentials in use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from obstore.exceptions import (
    AlreadyExistsError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)

from fsreplica.errors import DestinationError

_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_STATUS = re.compile(r"\b(?:status code:? |status: )([1-5]\d\d)\b")

# S3 error codes that mean the same for every store, with the reason shown and whether a later try
# may succeed.
_CODES: dict[str, tuple[str, bool]] = {
    "NoSuchBucket": ("bucket does not exist", False),
    "AccessDenied": ("access denied (check AWS_ACCESS_KEY_ID)", False),
    "InvalidAccessKeyId": ("access denied (check AWS_ACCESS_KEY_ID)", False),
    "SignatureDoesNotMatch": ("access denied (check AWS_SECRET_ACCESS_KEY)", False),
    "ExpiredToken": ("credentials expired", False),
    "EntityTooLarge": ("object too large", False),
    "InvalidBucketName": ("invalid bucket name", False),
    "QuotaExceeded": ("quota exceeded", False),
    "SlowDown": ("throttled by the server", True),
    "ServiceUnavailable": ("service unavailable", True),
    "InternalError": ("internal server error", True),
    "RequestTimeout": ("request timed out", True),
}

# Transport failures, recognised in obstore's (reqwest's) text; all of them are worth retrying.
_TRANSPORT: tuple[tuple[str, str], ...] = (
    ("connection refused", "connection refused"),
    ("connection reset", "connection reset"),
    ("timed out", "timed out"),
    ("dns error", "host not found"),
    ("failed to lookup address", "host not found"),
    ("connection closed", "connection closed"),
    ("broken pipe", "connection closed"),
    ("error sending request", "cannot reach the endpoint"),
    ("tls", "tls handshake failed"),
)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Return `text` with every non-empty secret replaced by '***'."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def classify(exc: BaseException) -> tuple[str, bool]:  # noqa: PLR0911 (a lookup table)
    """Return (reason, retryable) for a client exception.

    Args:
        exc: An obstore or botocore exception, or an OSError from the transport.
    """
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        text = str(exc)
        code = _CODE.search(text)
        if code and code.group(1) in _CODES:
            return _CODES[code.group(1)]
        return "access denied (check AWS_ACCESS_KEY_ID)", False
    if isinstance(exc, PreconditionError | AlreadyExistsError):
        return "precondition failed (object changed meanwhile)", True
    if isinstance(exc, ValueError) and "parse path" in str(exc):
        return "key not allowed in s3 (control character)", False
    text = _botocore_code(exc) or str(exc)
    if text in _CODES:
        return _CODES[text]
    code = _CODE.search(text)
    if code and code.group(1) in _CODES:
        return _CODES[code.group(1)]
    lower = text.lower()
    status = _STATUS.search(lower)
    if status:
        number = int(status.group(1))
        if number == 404:
            return "bucket does not exist", False
        if number in (401, 403):
            return "access denied (check AWS_ACCESS_KEY_ID)", False
        if number == 429 or number >= 500:
            return f"server error (http {number})", True
        return f"request refused (http {number})", False
    for needle, reason in _TRANSPORT:
        if needle in lower:
            return reason, True
    if isinstance(exc, OSError | TimeoutError):
        return (exc.strerror or type(exc).__name__).lower(), True
    # Unknown: assume transient (the engine backs off) but show only the exception type, never
    # the raw text, which may quote request headers.
    return f"unexpected error ({type(exc).__name__})", True


def _botocore_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code") if isinstance(error, dict) else None
        if isinstance(code, str):
            if code.isdigit():
                return f"status code {code}"
            return code
    return None


def is_missing(exc: BaseException) -> bool:
    """Whether `exc` says the object (not the bucket) does not exist."""
    # obstore raises the builtin FileNotFoundError for a 404, whether key or bucket is missing.
    if isinstance(exc, FileNotFoundError):
        return "NoSuchBucket" not in str(exc)
    return _botocore_code(exc) in ("NoSuchKey", "status code 404", "NotFound")


def destination_error(op: str, url: str, exc: BaseException) -> DestinationError:
    """Wrap `exc` as a DestinationError for `op` on `url`."""
    reason, retryable = classify(exc)
    return DestinationError(op, url, reason, retryable=retryable)
