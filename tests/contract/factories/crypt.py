"""Contract factories: the encrypting wrapper (fsreplica.crypt) over local, memory and moto's S3.

Names in clear and names sealed; a cheap scrypt cost (the tests need no hard passphrase).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fsreplica.crypt import CryptDestination, Secrets, init_key, open_encrypted
from fsreplica.destinations import Destination
from fsreplica.destinations.local import LocalDestination
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.destinations.s3 import S3Destination
from servers import motoserver

SECRETS = Secrets(passphrase=b"contract", scrypt_log_n=10)


@contextlib.contextmanager
def _wrapped(inner: Destination, *, encrypt_names: bool) -> Iterator[CryptDestination]:
    try:
        init_key(inner, SECRETS, encrypt_names=encrypt_names)
        dest = open_encrypted(inner, SECRETS)
    except BaseException:
        inner.close()
        raise
    try:
        yield dest
    finally:
        dest.close()


def _local(tmp_path: Path, **options: Any) -> Any:
    return _wrapped(LocalDestination(tmp_path / "dest"), **options)


def _memory(tmp_path: Path, **options: Any) -> Any:
    return _wrapped(MemoryDestination(tmp_path.name), **options)


@contextlib.contextmanager
def _moto(tmp_path: Path, **options: Any) -> Iterator[CryptDestination]:
    endpoint = motoserver.endpoint()
    bucket = motoserver.new_bucket(endpoint)
    inner = S3Destination.from_url(
        f"s3://{bucket}/replica/{tmp_path.name}",
        endpoint_url=endpoint,
        access_key_id=motoserver.ACCESS_KEY,
        secret_access_key=motoserver.SECRET_KEY,
        metadata_cache=tmp_path / "s3-metadata.sqlite",
        preflight=False,
        multipart_threshold=5 * 1024 * 1024,
        part_size=5 * 1024 * 1024,
    )
    try:
        with _wrapped(inner, **options) as dest:
            yield dest
    finally:
        motoserver.empty_bucket(endpoint, bucket)


FACTORIES = [
    ("crypt-local", lambda tmp_path: _local(tmp_path, encrypt_names=False)),
    ("crypt-local-names", lambda tmp_path: _local(tmp_path, encrypt_names=True)),
    ("crypt-memory", lambda tmp_path: _memory(tmp_path, encrypt_names=False)),
    ("crypt-s3-moto", lambda tmp_path: _moto(tmp_path, encrypt_names=False)),
    ("crypt-s3-moto-names", lambda tmp_path: _moto(tmp_path, encrypt_names=True)),
]
