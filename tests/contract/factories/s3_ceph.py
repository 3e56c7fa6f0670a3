"""Contract factory: S3Destination on a real Ceph RADOS Gateway (started once per session).

It fails, not skips, when Ceph cannot start (FSREPLICA_SKIP_CEPH=1 skips on purpose).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from fsreplica.destinations.s3 import S3Destination
from servers import ceph, motoserver


@contextlib.contextmanager
def s3_ceph(tmp_path: Path) -> Iterator[S3Destination]:
    cluster = ceph.shared()
    keys = {"access_key": cluster.access_key, "secret_key": cluster.secret_key}
    bucket = motoserver.new_bucket(cluster.endpoint, **keys)
    dest = S3Destination.from_url(
        f"s3://{bucket}/replica",
        endpoint_url=cluster.endpoint,
        access_key_id=cluster.access_key,
        secret_access_key=cluster.secret_key,
        metadata_cache=False,
        preflight=False,
    )
    try:
        yield dest
    finally:
        dest.close()
        motoserver.empty_bucket(cluster.endpoint, bucket, **keys)


FACTORIES = [("s3-ceph", s3_ceph)]
