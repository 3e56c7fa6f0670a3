"""Preflight through obstore: the usual case, a usable bucket, without importing botocore.

A LIST of a prefix nothing uses (read access, the bucket exists), a PUT of an empty probe
object with If-None-Match, the same PUT again (refused when the store honours conditional
writes) and a DELETE. Any failure is left to the botocore preflight, which says what is wrong in
one line; so is the sweep of stale multipart uploads, which obstore cannot list, but only once an
hour per destination (see `sweep_due`): a stale upload is a day old before it is aborted anyway.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import AlreadyExistsError, PreconditionError

from fsreplica.destinations.s3._control import PROBE_PREFIX

if TYPE_CHECKING:
    from obstore.store import S3Store

    from fsreplica.destinations._store.cache import MetadataCache

SWEEP_INTERVAL = 3600.0
"""Seconds between two sweeps of stale multipart uploads of one destination."""
_SWEPT = "swept"


def probe(store: S3Store) -> bool | None:
    """Check the bucket can be listed and written; None when anything failed.

    Returns:
        Whether the store honours If-None-Match on PUT, or None when a request failed (the
        botocore preflight then finds out why).
    """
    key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
    try:
        obstore.list_with_delimiter(store, f"{key}/")
        obstore.put(store, key, b"", mode="create", use_multipart=False)
    except Exception:
        return None
    supported: bool | None
    try:
        obstore.put(store, key, b"", mode="create", use_multipart=False)
        supported = False
    except (AlreadyExistsError, PreconditionError):
        supported = True
    except Exception:
        supported = None
    try:
        obstore.delete(store, key)
    except Exception:
        return None
    return supported


def sweep_due(cache: MetadataCache, *, now: float | None = None) -> bool:
    """Whether stale uploads should be swept now; if so, note that they are.

    A destination whose cache is in memory only is swept every time.
    """
    now = time.time() if now is None else now
    last = cache.get_meta(_SWEPT)
    try:
        if last is not None and 0 <= now - float(last) < SWEEP_INTERVAL:
            return False
    except ValueError:
        pass
    cache.set_meta(_SWEPT, repr(now))
    return True
