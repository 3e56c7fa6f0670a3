"""How fsreplica reads an OSError: a condition that passes, or a failure of the file itself.

Replication retries what passes, with backoff, and records what does not as the failure of its
path. The same errno means the same thing wherever it is met, so the sets live here once.
"""

from __future__ import annotations

import errno
from enum import StrEnum


class OSErrorKind(StrEnum):
    """What an OSError says about the operation that met it."""

    SYSTEM = "system"
    """The process or machine ran short (descriptors, memory) or was interrupted: it passes."""
    STORAGE = "storage"
    """The storage written to is full, over quota, read-only or busy: it passes too."""
    FILE = "file"
    """Anything else (permission denied, not found, name too long): this path's own failure."""


_SYSTEM = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN, errno.EINTR})
_STORAGE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EBUSY})


def classify_oserror(exc: OSError) -> OSErrorKind:
    """Say whether `exc` is a condition that passes (and of what) or a failure of its path."""
    if exc.errno in _SYSTEM:
        return OSErrorKind.SYSTEM
    if exc.errno in _STORAGE:
        return OSErrorKind.STORAGE
    return OSErrorKind.FILE


def cause_of(exc: BaseException) -> str:
    """The cause of `exc` for a message: an OSError's text in lower case, without its path."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)
