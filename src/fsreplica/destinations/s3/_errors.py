"""Turning client exceptions into the contract's errors: short, lower-case, secret-free.

obstore's messages are long (the request URL, retry counts, the XML body) and botocore's name the
operation in CamelCase; neither is shown as is. A reason is picked from a small vocabulary by the
exception type, the S3 error code or the HTTP status, and whatever text is kept is scrubbed of the
credentials in use.
"""

from __future__ import annotations

import re

from obstore.exceptions import (
    AlreadyExistsError,
    PermissionDeniedError,
    PreconditionError,
    UnauthenticatedError,
)

from fsreplica.destinations._store.errors import (
    PRECONDITION,
    status_reason,
    transport_reason,
    unexpected,
)
from fsreplica.errors import DestinationError

DENIED = "access denied (check AWS_ACCESS_KEY_ID)"
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
        return PRECONDITION, True
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
        return status_reason(int(status.group(1)), denied=DENIED, missing="bucket does not exist")
    reason = transport_reason(lower)
    if reason is not None:
        return reason, True
    return unexpected(exc)


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
