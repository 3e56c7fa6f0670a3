"""Contract factories: GCSDestination on fake-gcs-server (started once per session)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.auth.credentials import AnonymousCredentials

from fsreplica.destinations.gcs import GCSDestination
from servers import fakegcs


@contextlib.contextmanager
def _fake(tmp_path: Path, **options: Any) -> Iterator[GCSDestination]:
    endpoint = fakegcs.endpoint()
    bucket = fakegcs.new_bucket(endpoint)
    dest = GCSDestination.from_url(
        f"gs://{bucket}/replica/{tmp_path.name}",
        endpoint_url=endpoint,
        credentials=AnonymousCredentials(),
        preflight=False,
        **options,
    )
    try:
        yield dest
    finally:
        dest.close()
        fakegcs.empty_bucket(bucket, endpoint)


@contextlib.contextmanager
def gcs_fake(tmp_path: Path) -> Iterator[GCSDestination]:
    with _fake(tmp_path) as dest:
        yield dest


@contextlib.contextmanager
def gcs_fake_resumable(tmp_path: Path) -> Iterator[GCSDestination]:
    """Every non-empty file goes as a resumable upload, in chunks of 256 KiB."""
    with _fake(tmp_path, resumable_threshold=0, chunk_size=256 * 1024) as dest:
        yield dest


FACTORIES = [("gcs-fake", gcs_fake), ("gcs-fake-resumable", gcs_fake_resumable)]
