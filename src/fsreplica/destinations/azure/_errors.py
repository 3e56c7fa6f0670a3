"""Azure Blob Storage's error codes, and turning client exceptions into the contract's errors.

The shared rules (exception types, HTTP status, transport failures) are in
`fsreplica.destinations._store.errors`; this module gives them Azure's vocabulary (the `<Code>`
of the XML error body obstore quotes, or the `error_code` of the Azure SDK's exceptions).
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

_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_STATUS = re.compile(r"\b(?:status code:? |status: )([1-5]\d\d)\b")
_DENIED = "access denied (check the account key or sas token)"
_CODES: dict[str, tuple[str, bool]] = {
    "ContainerNotFound": ("container does not exist", False),
    "ContainerBeingDeleted": ("container is being deleted", True),
    "ContainerDisabled": ("container is disabled", False),
    "AuthenticationFailed": (_DENIED, False),
    "AuthorizationFailure": (_DENIED, False),
    "InvalidAuthenticationInfo": (_DENIED, False),
    "AuthorizationPermissionMismatch": ("access denied (the credentials lack a permission)", False),
    "AuthorizationResourceTypeMismatch": ("access denied (the sas token's resource types)", False),
    "AuthorizationSourceIPMismatch": ("access denied (from this address)", False),
    "AuthorizationProtocolMismatch": ("access denied (over this protocol)", False),
    "InsufficientAccountPermissions": ("access denied (the account's permissions)", False),
    "AccountIsDisabled": ("account is disabled", False),
    "ResourceNotFound": ("account or container does not exist", False),
    "InvalidResourceName": ("invalid container or blob name", False),
    "RequestBodyTooLarge": ("object too large", False),
    "InvalidMetadata": ("metadata refused by the store", False),
    "ServerBusy": ("throttled by the server", True),
    "InternalError": ("internal server error", True),
    "OperationTimedOut": ("request timed out", True),
}


def _sdk_code(exc: BaseException) -> str | None:
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) else None


def _code(exc: BaseException) -> str | None:
    """The Azure error code `exc` carries: the SDK's, or the `<Code>` of the body obstore quotes."""
    found = _CODE.search(str(exc))
    return _sdk_code(exc) or (found.group(1) if found else None)


def classify(exc: BaseException) -> tuple[str, bool]:  # noqa: PLR0911 (a lookup table)
    """Return (reason, retryable) for an obstore or Azure SDK exception."""
    code = _code(exc)
    if code in _CODES:
        return _CODES[code]
    if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        return _DENIED, False
    if isinstance(exc, PreconditionError | AlreadyExistsError) or code == "ConditionNotMet":
        return PRECONDITION, True
    if isinstance(exc, ValueError) and "parse path" in str(exc):
        return "name not allowed in azure (control character)", False
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        found = _STATUS.search(str(exc).lower())
        status = int(found.group(1)) if found else None
    if status is not None:
        return status_reason(status, denied=_DENIED, missing="container does not exist")
    reason = transport_reason(str(exc))
    if reason is not None:
        return reason, True
    return unexpected(exc)


def is_missing(exc: BaseException) -> bool:
    """Whether `exc` says the blob (not the container) does not exist."""
    # obstore raises the builtin FileNotFoundError for a 404, whether blob or container is missing.
    if isinstance(exc, FileNotFoundError):
        return "ContainerNotFound" not in str(exc)
    return _sdk_code(exc) == "BlobNotFound"


def destination_error(op: str, url: str, exc: BaseException) -> DestinationError:
    """Wrap `exc` as a DestinationError for `op` on `url`."""
    reason, retryable = classify(exc)
    return DestinationError(op, url, reason, retryable=retryable)
