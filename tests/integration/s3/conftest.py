"""Fixtures for the S3 integration tests: buckets on moto and on Ceph RGW, and destinations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fsreplica.destinations.s3 import S3Destination
from servers import ceph, motoserver

OpenDest = Callable[..., S3Destination]


@pytest.fixture
def moto_bucket() -> Iterator[tuple[str, str]]:
    """(endpoint, bucket) of a fresh bucket on the shared moto server."""
    endpoint = motoserver.endpoint()
    bucket = motoserver.new_bucket(endpoint)
    yield endpoint, bucket
    motoserver.empty_bucket(endpoint, bucket)


@pytest.fixture
def ceph_bucket() -> Iterator[tuple[ceph.CephRGW, str]]:
    """(cluster, bucket) of a fresh bucket on the session's Ceph RGW."""
    cluster = ceph.shared()
    keys = {"access_key": cluster.access_key, "secret_key": cluster.secret_key}
    bucket = motoserver.new_bucket(cluster.endpoint, **keys)
    yield cluster, bucket
    motoserver.empty_bucket(cluster.endpoint, bucket, **keys)


@pytest.fixture
def open_moto(moto_bucket: tuple[str, str], tmp_path: Path) -> Iterator[OpenDest]:
    """Open S3Destinations on the moto bucket (closed after the test)."""
    endpoint, bucket = moto_bucket
    opened: list[S3Destination] = []

    def open_dest(prefix: str = "p", **options: Any) -> S3Destination:
        options.setdefault("metadata_cache", tmp_path / f"cache-{len(opened)}.sqlite")
        options.setdefault("preflight", False)
        dest = S3Destination.from_url(
            f"s3://{bucket}/{prefix}",
            endpoint_url=endpoint,
            access_key_id=motoserver.ACCESS_KEY,
            secret_access_key=motoserver.SECRET_KEY,
            **options,
        )
        opened.append(dest)
        return dest

    yield open_dest
    for dest in opened:
        dest.close()


@pytest.fixture
def open_ceph(ceph_bucket: tuple[ceph.CephRGW, str]) -> Iterator[OpenDest]:
    """Open S3Destinations on the Ceph bucket (closed after the test)."""
    cluster, bucket = ceph_bucket
    opened: list[S3Destination] = []

    def open_dest(prefix: str = "p", **options: Any) -> S3Destination:
        options.setdefault("metadata_cache", False)
        options.setdefault("preflight", False)
        options.setdefault("access_key_id", cluster.access_key)
        options.setdefault("secret_access_key", cluster.secret_key)
        dest = S3Destination.from_url(
            f"s3://{bucket}/{prefix}", endpoint_url=cluster.endpoint, **options
        )
        opened.append(dest)
        return dest

    yield open_dest
    for dest in opened:
        dest.close()
