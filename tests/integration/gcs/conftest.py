"""Fixtures for the GCS integration tests: buckets on fake-gcs-server, and destinations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from fsreplica.destinations.gcs import GCSDestination
from servers import fakegcs

OpenDest = Callable[..., GCSDestination]


@pytest.fixture
def gcs_bucket() -> Iterator[tuple[str, str]]:
    """(endpoint, bucket) of a fresh bucket on the session's fake-gcs-server."""
    endpoint = fakegcs.endpoint()
    bucket = fakegcs.new_bucket(endpoint)
    yield endpoint, bucket
    fakegcs.empty_bucket(bucket, endpoint)


@pytest.fixture
def open_gcs(gcs_bucket: tuple[str, str]) -> Iterator[OpenDest]:
    """Open GCSDestinations on the bucket (closed after the test)."""
    endpoint, bucket = gcs_bucket
    opened: list[GCSDestination] = []

    def open_dest(prefix: str = "p", **options: Any) -> GCSDestination:
        options.setdefault("preflight", False)
        options.setdefault("credentials", AnonymousCredentials())
        dest = GCSDestination.from_url(f"gs://{bucket}/{prefix}", endpoint_url=endpoint, **options)
        opened.append(dest)
        return dest

    yield open_dest
    for dest in opened:
        dest.close()


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[fakegcs.FakeGCS]:
    """A server of this test's own, on disk, so that it keeps its objects when restarted."""
    server = fakegcs.FakeGCS(root=tmp_path / "gcs-data").start()
    try:
        yield server
    finally:
        server.stop()
