"""Contract factories: the encrypting wrapper (fsreplica.crypt) over every kind of destination.

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


@contextlib.contextmanager
def _azurite(tmp_path: Path, **options: Any) -> Iterator[CryptDestination]:
    from fsreplica.destinations.azure import AzureDestination  # noqa: PLC0415
    from servers import azurite  # noqa: PLC0415

    container = azurite.new_container()
    inner = AzureDestination.from_url(
        f"az://{container}/replica/{tmp_path.name}",
        endpoint_url=azurite.endpoint(),
        account_name=azurite.ACCOUNT,
        account_key=azurite.KEY,
        metadata_cache=tmp_path / "azure-metadata.sqlite",
    )
    try:
        with _wrapped(inner, **options) as dest:
            yield dest
    finally:
        azurite.delete_container(container)


@contextlib.contextmanager
def _gcs(tmp_path: Path, **options: Any) -> Iterator[CryptDestination]:
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

    from fsreplica.destinations.gcs import GCSDestination  # noqa: PLC0415
    from servers import fakegcs  # noqa: PLC0415

    endpoint = fakegcs.endpoint()
    bucket = fakegcs.new_bucket(endpoint)
    inner = GCSDestination.from_url(
        f"gs://{bucket}/replica/{tmp_path.name}",
        endpoint_url=endpoint,
        credentials=AnonymousCredentials(),
        preflight=False,
    )
    try:
        with _wrapped(inner, **options) as dest:
            yield dest
    finally:
        fakegcs.empty_bucket(bucket, endpoint)


FACTORIES = [
    ("crypt-local", lambda tmp_path: _local(tmp_path, encrypt_names=False)),
    ("crypt-local-names", lambda tmp_path: _local(tmp_path, encrypt_names=True)),
    ("crypt-memory", lambda tmp_path: _memory(tmp_path, encrypt_names=False)),
    ("crypt-s3-moto", lambda tmp_path: _moto(tmp_path, encrypt_names=False)),
    ("crypt-s3-moto-names", lambda tmp_path: _moto(tmp_path, encrypt_names=True)),
    ("crypt-azure-azurite", lambda tmp_path: _azurite(tmp_path, encrypt_names=True)),
    ("crypt-gcs-fake", lambda tmp_path: _gcs(tmp_path, encrypt_names=False)),
]
