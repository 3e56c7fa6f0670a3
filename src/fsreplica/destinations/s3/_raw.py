"""The listings obstore cannot make, through botocore.

- Versions of objects in a versioned bucket (the "versions" capability, `restore --at`); a
  version's metadata and content are then read through obstore, which asks for one by its
  `versionId`.
- Keys obstore cannot name ('..', '//', controls; see `_store.listing`), listed as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fsreplica._names import from_key
from fsreplica.destinations._base import ObjectVersion

if TYPE_CHECKING:
    from obstore import ObjectMeta

_NS = 1_000_000_000


def keeps_versions(client: Any, bucket: str) -> bool:
    """True when versioning is on (or was, and is suspended: earlier versions stay)."""
    status = client.get_bucket_versioning(Bucket=bucket).get("Status")
    return status in ("Enabled", "Suspended")


def list_versions(client: Any, bucket: str, base: str, prefix: str) -> Iterator[ObjectVersion]:
    """Every version and deletion under `base` + `prefix` (stored keys), each key's newest first.

    Args:
        client: A botocore S3 client.
        bucket: The bucket.
        base: The destination's prefix ('' or ending with '/').
        prefix: A stored key prefix below it.
    """
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=base + prefix):
        # S3 answers a page's versions and deletions apart, each key's newest first: merge them
        # back into one sequence per key, newest first (a deletion first at the same time).
        found = [(item, False) for item in page.get("Versions", ())]
        found += [(item, True) for item in page.get("DeleteMarkers", ())]
        found.sort(key=lambda pair: (pair[0]["Key"], -_ns(pair[0]), not pair[1]))
        for item, deleted in found:
            yield ObjectVersion(
                from_key(item["Key"][len(base) :]),
                item["VersionId"],
                _ns(item),
                0 if deleted else item["Size"],
                deleted,
            )


def _ns(item: dict[str, Any]) -> int:
    when: datetime = item["LastModified"]
    return int(when.timestamp()) * _NS + when.microsecond * 1000


def raw_pages(
    client: Any, bucket: str, base: str, directory: str, after: str | None
) -> Iterator[list[ObjectMeta]]:
    """Pages of a listing under `base` + `directory`, named relative to `base`, keys as they are.

    Args:
        client: A botocore S3 client.
        bucket: The bucket.
        base: The destination's prefix ('' or ending with '/').
        directory: A directory under it ('' for all).
        after: Start after this key (relative to `base`), or from the start.
    """
    options: dict[str, Any] = {"Bucket": bucket, "Prefix": base + (directory and directory + "/")}
    if after is not None:
        options["StartAfter"] = base + after
    for page in client.get_paginator("list_objects_v2").paginate(**options):
        yield [
            {
                "path": item["Key"][len(base) :],
                "size": item["Size"],
                "e_tag": item.get("ETag"),
                "last_modified": item["LastModified"],
                "version": None,
            }
            for item in page.get("Contents", ())
        ]
