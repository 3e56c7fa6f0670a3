"""`--encrypt` to object storage (moto, Ceph RGW) as real processes.

A round trip with renames and deletes, a multipart upload (17 MiB), and a scan of everything the
bucket holds (keys, bodies, user metadata) for a canary and the plain SHA-256 of each source file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from servers import ceph, motoserver

CANARY = "canary-5b1e-in-the-bucket"
FSREPLICA = [sys.executable, "-m", "fsreplica"]


@pytest.fixture(params=["moto", "ceph"])
def store(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str, str]]:
    """(endpoint, bucket, access key, secret key) of a fresh bucket."""
    if request.param == "moto":
        endpoint, access, secret = (
            motoserver.endpoint(),
            motoserver.ACCESS_KEY,
            motoserver.SECRET_KEY,
        )
    else:
        cluster = ceph.shared()
        endpoint, access, secret = cluster.endpoint, cluster.access_key, cluster.secret_key
    bucket = motoserver.new_bucket(endpoint, access_key=access, secret_key=secret)
    yield endpoint, bucket, access, secret
    motoserver.empty_bucket(endpoint, bucket, access_key=access, secret_key=secret)


def run(tmp_path: Path, store: tuple[str, str, str, str], *args: object) -> Any:
    endpoint, _, access, secret = store
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSREPLICA_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=access,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    return subprocess.run(
        [*FSREPLICA, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def everything_in(store: tuple[str, str, str, str]) -> bytes:
    """Every key, body and user metadata value in the bucket, as one blob."""
    endpoint, bucket, access, secret = store
    s3 = motoserver.client(endpoint, access_key=access, secret_key=secret)
    blob = bytearray()
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=obj["Key"])
                blob += obj["Key"].encode() + b"\n" + got["Body"].read()
                for name, value in got["Metadata"].items():
                    blob += f"\n{name}={value}\n".encode()
    finally:
        s3.close()
    return bytes(blob)


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def decrypted(tmp_path: Path, store: tuple[str, str, str, str], key: Path) -> dict[str, bytes]:
    from fsreplica.crypt import Secrets, open_encrypted  # noqa: PLC0415
    from fsreplica.destinations.s3 import S3Destination  # noqa: PLC0415

    endpoint, bucket, access, secret = store
    inner = S3Destination.from_url(
        f"s3://{bucket}/enc",
        endpoint_url=endpoint,
        access_key_id=access,
        secret_access_key=secret,
        metadata_cache=False,
        preflight=False,
    )
    with open_encrypted(inner, Secrets(passphrase=key.read_bytes().rstrip(b"\n"))) as dest:
        return {info.key: b"".join(dest.read(info.key)) for info in dest.list()}


class TestObjectStorage:
    """Encrypted round trips through S3: nothing readable in the bucket."""

    @pytest.mark.parametrize("names", [False, True], ids=["clear-names", "sealed-names"])
    def test_round_trip_and_canary(
        self, tmp_path: Path, store: tuple[str, str, str, str], names: bool
    ) -> None:
        src = tmp_path / "src"
        (src / "docs").mkdir(parents=True)
        (src / "docs" / f"{CANARY}.txt").write_text(f"{CANARY}\n" * 1000)
        (src / "small").write_bytes(CANARY.encode())
        (src / "empty").write_bytes(b"")
        (src / "multipart.bin").write_bytes(os.urandom(17 * 1024 * 1024) + CANARY.encode())
        key = tmp_path / "key"
        key.write_text("bucket passphrase\n")
        key.chmod(0o600)
        dest = f"s3://{store[1]}/enc"
        extra = ["--encrypt-names"] if names else []
        made = run(
            tmp_path, store, "key", "init", dest, "--key-file", key, "--scrypt-log-n", "10", *extra
        )
        assert made.returncode == 0, made.stderr
        args = ("--encrypt", "--key-file", key, "--state", tmp_path / "s.db")
        first = run(tmp_path, store, "sync", src, dest, *args)
        assert first.returncode == 0, first.stderr
        assert decrypted(tmp_path, store, key) == files(src)
        (src / "small").rename(src / "docs" / "moved")
        (src / "empty").unlink()
        second = run(tmp_path, store, "sync", src, dest, *args)
        assert second.returncode == 0, second.stderr
        assert decrypted(tmp_path, store, key) == files(src)
        again = run(tmp_path, store, "sync", src, dest, *args)
        assert "0 copied" in again.stderr, again.stderr
        verify = run(tmp_path, store, "verify", src, dest, "--encrypt", "--key-file", key)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        blob = everything_in(store)
        if names:
            assert CANARY.encode() not in blob
        else:  # the canary names a file, in clear: only in keys
            assert blob.count(CANARY.encode()) == blob.count(f"docs/{CANARY}.txt".encode())
        for data in files(src).values():
            assert hashlib.sha256(data).hexdigest().encode() not in blob
        assert b"bucket passphrase" not in blob
