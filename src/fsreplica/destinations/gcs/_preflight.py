"""Checking a bucket before any transfer: one request each to list, create, re-create, delete.

A LIST of the prefix (the bucket exists, the credentials read it), a create of an empty probe
object with `if_generation_match=0` (they write it), the same create again (refused when the
store honours generations) and a delete. Each is tried once, with short timeouts: what fails is
said in one line, at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fsreplica.destinations._store.errors import TRANSPORT_REASONS
from fsreplica.destinations.gcs._errors import classify, is_precondition
from fsreplica.errors import PreflightError

if TYPE_CHECKING:
    from fsreplica.destinations.gcs._client import Calls
    from fsreplica.destinations.gcs._config import Connection, Location

NO_CREDENTIALS = (
    "no credentials found (set GOOGLE_APPLICATION_CREDENTIALS, run "
    "'gcloud auth application-default login', or set STORAGE_EMULATOR_HOST for an emulator)"
)


def preflight(
    location: Location, connection: Connection, client: Any, probe: str, calls: Calls
) -> bool:
    """Check the bucket can be listed and written; return whether generations are honoured.

    Args:
        location: The bucket and prefix.
        connection: The endpoint and credentials (for messages).
        client: The storage client.
        probe: The name of the probe object (under the prefix, unique).
        calls: Retry and timeouts for each request (a single try).

    Raises:
        PreflightError: What is wrong, in one line.
    """
    where = f"gs://{location.bucket}"
    bucket = client.bucket(location.bucket)
    try:
        pages = client.list_blobs(bucket, prefix=location.prefix, max_results=1, **calls.kwargs)
        list(pages)
    except Exception as exc:
        raise _error(where, connection, exc) from None
    blob = bucket.blob(probe)
    try:
        blob.upload_from_string(b"", if_generation_match=0, **calls.kwargs)
    except Exception as exc:
        raise _error(where, connection, exc, writing=True) from None
    try:
        bucket.blob(probe).upload_from_string(b"", if_generation_match=0, **calls.kwargs)
        supported = False
    except Exception as exc:
        if not is_precondition(exc):
            raise _error(where, connection, exc, writing=True) from None
        supported = True
    finally:
        try:
            bucket.delete_blob(probe, **calls.kwargs)
        except Exception:  # noqa: S110 (a probe left behind is one empty object)
            pass
    return supported


def _error(
    where: str, connection: Connection, exc: BaseException, *, writing: bool = False
) -> PreflightError:
    reason, retryable = classify(exc)
    if reason in TRANSPORT_REASONS:
        endpoint = connection.endpoint or "https://storage.googleapis.com"
        plain = reason in ("connection refused", "cannot reach the endpoint")
        reason = f"cannot reach {endpoint}" + ("" if plain else f" ({reason})")
    elif writing and reason.startswith("access denied"):
        reason = "write access denied (check the credentials' roles on the bucket)"
    return PreflightError(where, reason, retryable=retryable)
