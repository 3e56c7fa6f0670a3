"""The few S3 calls obstore does not offer, made through botocore.

They are preflight, multipart housekeeping and in-place metadata updates.

None of them is on the per-file hot path except `set_metadata` (a file touched or chmod-ed, not
rewritten), so botocore's per-request CPU cost, several times obstore's, does not matter here;
its client is created on first use.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fsreplica.destinations.s3._errors import classify
from fsreplica.errors import PreflightError

if TYPE_CHECKING:
    from fsreplica.destinations.s3._config import Connection, Location

STALE_UPLOAD_AGE = timedelta(days=1)
PROBE_PREFIX = ".fsreplica-probe-"


class Control:
    """A lazily created botocore S3 client bound to one bucket and prefix.

    Args:
        location: The bucket and prefix.
        connection: Endpoint, region and credentials.
    """

    def __init__(self, location: Location, connection: Connection) -> None:
        self.location = location
        self.connection = connection
        self._lock = threading.Lock()
        self._client: Any = None

    def client(self) -> Any:
        """The botocore client (created on first call)."""
        with self._lock:
            if self._client is None:
                from botocore import UNSIGNED  # type: ignore[import-untyped]  # noqa: PLC0415
                from botocore.config import Config  # type: ignore[import-untyped]  # noqa: PLC0415

                conn = self.connection
                config = Config(
                    s3={"addressing_style": "path" if conn.path_style else "virtual"},
                    retries={"total_max_attempts": 2, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=60,
                    signature_version=UNSIGNED if conn.credentials is None else None,
                )
                self._client = conn.session.create_client(
                    "s3", region_name=conn.region, endpoint_url=conn.endpoint_url, config=config
                )
            return self._client

    def full_key(self, key: str) -> str:
        """The bucket key of a destination key."""
        return self.location.prefix + key

    def preflight(self) -> bool:
        """Check reachability, bucket, credentials and write access; sweep stale uploads.

        Returns:
            Whether the store honours If-None-Match on PUT.

        Raises:
            PreflightError: What is wrong, in one line.
        """
        bucket = self.location.bucket
        where = f"s3://{bucket}"
        if self.connection.credentials is None:
            raise PreflightError(
                where, "no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            )
        try:
            client = self.client()
            client.list_objects_v2(Bucket=bucket, Prefix=self.location.prefix, MaxKeys=1)
        except Exception as exc:
            raise self._preflight_error(where, exc) from None
        probe = self.full_key(f"{PROBE_PREFIX}{uuid.uuid4().hex}")
        try:
            client.put_object(Bucket=bucket, Key=probe, Body=b"", IfNoneMatch="*")
        except Exception as exc:
            raise self._preflight_error(where, exc, writing=True) from None
        try:
            client.put_object(Bucket=bucket, Key=probe, Body=b"", IfNoneMatch="*")
            supported = False
        except Exception as exc:
            supported = _status(exc) == 412
        finally:
            client.delete_object(Bucket=bucket, Key=probe)
        self.abort_incomplete(older_than=STALE_UPLOAD_AGE)
        return supported

    def _preflight_error(
        self, where: str, exc: BaseException, *, writing: bool = False
    ) -> PreflightError:
        name = type(exc).__name__
        endpoint = self.connection.endpoint_url or "the aws endpoint"
        if name in ("EndpointConnectionError", "ConnectionClosedError"):
            return PreflightError(where, f"cannot reach {endpoint}", retryable=True)
        if name in ("ConnectTimeoutError", "ReadTimeoutError"):
            return PreflightError(where, f"cannot reach {endpoint} (timed out)", retryable=True)
        if name == "NoCredentialsError":
            return PreflightError(where, "no credentials found (set AWS_ACCESS_KEY_ID)")
        reason, retryable = classify(exc)
        if writing and reason.startswith("access denied"):
            reason = "write access denied (check the credentials' bucket policy)"
        return PreflightError(where, reason, retryable=retryable)

    def incomplete_uploads(self) -> list[tuple[str, str, datetime]]:
        """(key, upload id, initiated) of every unfinished multipart upload under the prefix."""
        client = self.client()
        found: list[tuple[str, str, datetime]] = []
        paginator = client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.location.bucket, Prefix=self.location.prefix):
            for upload in page.get("Uploads", []):
                found.append((upload["Key"], upload["UploadId"], upload["Initiated"]))
        return found

    def abort_incomplete(self, *, older_than: timedelta = STALE_UPLOAD_AGE) -> int:
        """Abort the multipart uploads under the prefix started more than `older_than` ago.

        Best effort (a crash mid-upload leaves one behind, which costs storage until then);
        returns how many were aborted.
        """
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        try:
            uploads = self.incomplete_uploads()
            for key, upload_id, initiated in uploads:
                if initiated <= cutoff:
                    self.client().abort_multipart_upload(
                        Bucket=self.location.bucket, Key=key, UploadId=upload_id
                    )
                    aborted += 1
        except Exception:  # noqa: S110 (housekeeping must never stop replication)
            pass
        return aborted

    def replace_metadata(self, key: str, metadata: dict[str, str], *, if_match: str | None) -> str:
        """Replace the user metadata of `key` by copying it onto itself; return the new ETag."""
        full = self.full_key(key)
        extra = {"CopySourceIfMatch": if_match} if if_match else {}
        response = self.client().copy_object(
            Bucket=self.location.bucket,
            Key=full,
            CopySource={"Bucket": self.location.bucket, "Key": full},
            Metadata=metadata,
            MetadataDirective="REPLACE",
            **extra,
        )
        etag: str = response["CopyObjectResult"]["ETag"]
        return etag

    def close(self) -> None:
        """Close the client's connections; idempotent."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None
