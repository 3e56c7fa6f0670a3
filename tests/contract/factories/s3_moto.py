"""Contract factories: S3Destination on moto's in-process S3 server (fast tier, every run)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fsreplica.destinations.s3 import S3Destination
from servers import motoserver


@contextlib.contextmanager
def _moto(tmp_path: Path, **options: Any) -> Iterator[S3Destination]:
    endpoint = motoserver.endpoint()
    bucket = motoserver.new_bucket(endpoint)
    dest = S3Destination.from_url(
        f"s3://{bucket}/replica/{tmp_path.name}",
        endpoint_url=endpoint,
        access_key_id=motoserver.ACCESS_KEY,
        secret_access_key=motoserver.SECRET_KEY,
        metadata_cache=tmp_path / "s3-metadata.sqlite",
        preflight=False,
        **options,
    )
    try:
        yield dest
    finally:
        dest.close()
        motoserver.empty_bucket(endpoint, bucket)


@contextlib.contextmanager
def s3_moto(tmp_path: Path) -> Iterator[S3Destination]:
    with _moto(tmp_path) as dest:
        yield dest


@contextlib.contextmanager
def s3_moto_multipart(tmp_path: Path) -> Iterator[S3Destination]:
    """Every non-empty file goes through the multipart path."""
    with _moto(tmp_path, multipart_threshold=0, part_size=5 * 1024 * 1024) as dest:
        yield dest


FACTORIES = [("s3-moto", s3_moto), ("s3-moto-multipart", s3_moto_multipart)]
