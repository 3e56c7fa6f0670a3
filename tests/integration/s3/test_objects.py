"""Multipart uploads, their cleanup, renames by server-side copy, conditional writes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from fsreplica.destinations import SourceChangedError, SourceFile
from fsreplica.destinations.s3 import S3Destination
from servers import motoserver

OpenDest = Callable[..., S3Destination]
MIB = 1024 * 1024


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def put(dest: S3Destination, key: str, path: str) -> None:
    with SourceFile(path) as source:
        dest.put(key, source)


class TestMultipart:
    """Large files go in parts, streamed; failures leave no upload behind."""

    def test_multipart_roundtrip(self, open_moto: OpenDest, tmp_path: Path) -> None:
        dest = open_moto(multipart_threshold=5 * MIB, part_size=5 * MIB)
        data = os.urandom(12 * MIB + 3)
        with SourceFile(write(tmp_path / "big", data)) as source:
            info = dest.put("dir/big", source)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        stored = dest.stat("dir/big")
        assert (stored.size, stored.sha256, stored.mtime_ns) == (
            len(data),
            info.sha256,
            info.mtime_ns,
        )
        assert b"".join(dest.read("dir/big")) == data
        assert dest.control.incomplete_uploads() == []

    def test_source_changed_mid_upload_aborts(self, open_moto: OpenDest, tmp_path: Path) -> None:
        dest = open_moto(multipart_threshold=5 * MIB, part_size=5 * MIB, upload_concurrency=1)
        path = write(tmp_path / "big", os.urandom(40 * MIB))
        errors: list[BaseException] = []

        def upload() -> None:
            try:
                put(dest, "big", path)
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=upload)
        worker.start()
        deadline = time.monotonic() + 20
        while not dest.control.incomplete_uploads():
            assert time.monotonic() < deadline, "the multipart upload never started"
            time.sleep(0.01)
        with open(path, "ab") as f:
            f.write(b"changed while uploading")
        worker.join(timeout=25)
        assert [type(e) for e in errors] == [SourceChangedError]
        assert dest.control.incomplete_uploads() == []
        with pytest.raises(FileNotFoundError):
            dest.stat("big")

    def test_stale_uploads_swept(self, open_ceph: OpenDest, ceph_bucket: tuple) -> None:
        """On Ceph: moto reports a fixed 2010 date for every upload's start."""
        cluster, bucket = ceph_bucket
        dest = open_ceph("p")
        s3 = motoserver.client(
            cluster.endpoint, access_key=cluster.access_key, secret_key=cluster.secret_key
        )
        s3.create_multipart_upload(Bucket=bucket, Key="p/crashed")
        other = s3.create_multipart_upload(Bucket=bucket, Key="elsewhere/other")
        assert [u[0] for u in dest.control.incomplete_uploads()] == ["p/crashed"]
        assert dest.control.abort_incomplete(older_than=timedelta(hours=1)) == 0
        assert dest.control.abort_incomplete(older_than=timedelta(0)) == 1
        assert dest.control.incomplete_uploads() == []
        remaining = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        assert [u["Key"] for u in remaining] == ["elsewhere/other"]
        s3.abort_multipart_upload(Bucket=bucket, Key="elsewhere/other", UploadId=other["UploadId"])

    @pytest.mark.slow
    def test_2gib_sparse_file_bounded_memory(
        self, open_ceph: OpenDest, tmp_path: Path, ceph_bucket: tuple
    ) -> None:
        """A 2 GiB file goes up with the process under 200 MiB RSS (measured in a child).

        The child reports VmHWM, the peak of its own address space. Not `ru_maxrss`: Linux carries
        the parent's peak across fork and exec into it, so after the contract suite had grown the
        pytest process to 240-390 MiB the child "peaked" there whatever it did itself.
        """
        cluster, bucket = ceph_bucket
        path = tmp_path / "sparse"
        with open(path, "wb") as f:
            f.truncate(2 * 1024 * MIB)
        code = f"""
from fsreplica.destinations import SourceFile
from fsreplica.destinations.s3 import S3Destination
dest = S3Destination.from_url("s3://{bucket}/p", endpoint_url="{cluster.endpoint}",
    access_key_id="{cluster.access_key}", secret_access_key="{cluster.secret_key}",
    metadata_cache=False)
with SourceFile("{path}") as source:
    info = dest.put("sparse", source)
with open("/proc/self/status") as status:
    hwm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(info.size, hwm_kib // 1024)
"""
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=28, check=True
        )
        size, rss_mib = map(int, done.stdout.split())
        assert size == 2 * 1024 * MIB
        assert rss_mib < 200, f"peak rss {rss_mib} MiB"
        assert open_ceph().stat("sparse").size == size


class TestRenameAndCopy:
    """Renames are a server-side copy plus a delete; the metadata travels with the copy."""

    def test_rename_keeps_metadata(self, open_ceph: OpenDest, tmp_path: Path) -> None:
        dest = open_ceph()
        path = write(tmp_path / "f", b"content")
        os.utime(path, ns=(1_500_000_000_000_000_001, 1_500_000_000_000_000_001))
        put(dest, "old/name", path)
        os.unlink(path)  # no source any more: only a server-side copy can produce the object
        info = dest.rename("old/name", "new/name")
        assert info.mtime_ns == 1_500_000_000_000_000_001
        assert [i.key for i in dest.list()] == ["new/name"]
        assert b"".join(dest.read("new/name")) == b"content"
        with pytest.raises(FileNotFoundError):
            dest.rename("old/name", "again")

    def test_set_metadata_in_place(self, open_ceph: OpenDest, tmp_path: Path) -> None:
        dest = open_ceph()
        put(dest, "k", write(tmp_path / "f", b"data"))
        info = dest.set_metadata("k", mtime_ns=42_000_000_001, mode=0o600)
        stored = dest.stat("k")
        assert (stored.mtime_ns, stored.mode, stored.sha256) == (42_000_000_001, 0o600, info.sha256)


class TestConditionalWrites:
    """An older version never replaces a newer one, even from another replicator."""

    @pytest.mark.parametrize("server", ["moto", "ceph"])
    def test_second_replicator_cannot_overwrite_newer(
        self, server: str, request: pytest.FixtureRequest, tmp_path: Path
    ) -> None:
        open_dest: OpenDest = request.getfixturevalue(f"open_{server}")
        older = write(tmp_path / "older", b"version read first")
        time.sleep(0.01)  # distinct ctimes even on coarse clocks
        newer = write(tmp_path / "newer", b"version written later")
        first, second = open_dest(), open_dest()
        put(first, "k", newer)
        with pytest.raises(SourceChangedError):
            put(second, "k", older)  # a slow replicator arriving late
        assert b"".join(first.read("k")) == b"version written later"
        put(second, "k", newer)  # the current version goes through (If-Match)
        rewritten = write(tmp_path / "newer", b"third")
        put(first, "k", rewritten)  # first's remembered ETag is stale: HEAD, then If-Match
        assert b"".join(second.read("k")) == b"third"

    def test_off_overwrites(self, open_moto: OpenDest, tmp_path: Path) -> None:
        older = write(tmp_path / "older", b"old")
        time.sleep(0.01)
        newer = write(tmp_path / "newer", b"new")
        dest = open_moto(conditional=False)
        put(dest, "k", newer)
        put(dest, "k", older)
        assert b"".join(dest.read("k")) == b"old"
