"""GCSDestination beyond the contract: generations, resumable uploads, objects of other tools."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fsreplica.destinations import SourceFile
from fsreplica.destinations.gcs import GCSDestination
from fsreplica.errors import SourceChangedError
from servers import fakegcs

OpenDest = Callable[..., GCSDestination]
MTIME = 1_600_000_000_123_456_789


def put(dest: GCSDestination, key: str, path: Path) -> None:
    with SourceFile(path) as source:
        dest.put(key, source)


class TestGenerations:
    """Conditional writes by generation: a newer version is never replaced by an older one."""

    def test_an_older_source_never_replaces_a_newer_object(
        self, open_gcs: OpenDest, tmp_path: Path
    ) -> None:
        old, new = tmp_path / "old", tmp_path / "new"
        old.write_bytes(b"older version")
        time.sleep(0.01)  # not a synchronisation: two distinct ctimes
        new.write_bytes(b"newer version")
        first, second = open_gcs(), open_gcs()
        with SourceFile(old) as older:  # opened first: its ctime is the older one
            put(second, "k", new)
            with pytest.raises(SourceChangedError):
                first.put("k", older)
        assert fakegcs.objects(first.location.bucket, "p/")["k"] == b"newer version"

    def test_a_change_by_another_writer_is_looked_up_then_replaced(
        self, open_gcs: OpenDest, tmp_path: Path
    ) -> None:
        first, second = open_gcs(), open_gcs()
        for n, dest in enumerate((first, second, first)):  # first's generation is stale
            path = tmp_path / f"v{n}"
            path.write_bytes(f"version {n}".encode())
            put(dest, "k", path)
        assert fakegcs.objects(first.location.bucket, "p/")["k"] == b"version 2"

    def test_unconditional_when_asked(self, open_gcs: OpenDest, tmp_path: Path) -> None:
        dest = open_gcs(conditional=False)
        for n in range(2):
            path = tmp_path / f"v{n}"
            path.write_bytes(f"version {n}".encode())
            put(dest, "k", path)
        assert dest.stat("k").size == len(b"version 1")


class TestOtherTools:
    """Objects another tool wrote (no metadata) are listed with their upload date as mtime."""

    def test_foreign_object(self, open_gcs: OpenDest, gcs_bucket: tuple[str, str]) -> None:
        endpoint, bucket = gcs_bucket
        with fakegcs.client(endpoint) as gcs:
            gcs.bucket(bucket).blob("p/foreign.txt").upload_from_string(b"from elsewhere")
        dest = open_gcs()
        (info,) = list(dest.list())
        assert (info.key, info.size, info.mode, info.sha256) == ("foreign.txt", 14, None, None)
        assert abs(info.mtime_ns / 1e9 - time.time()) < 3600
        updated = dest.set_metadata("foreign.txt", mtime_ns=MTIME, mode=0o640)
        assert (updated.mtime_ns, updated.mode) == (MTIME, 0o640)
        assert dest.stat("foreign.txt").mtime_ns == MTIME
        assert b"".join(dest.read("foreign.txt")) == b"from elsewhere"


class TestResumable:
    """Large files go in chunks; memory stays near two chunks whatever the file size."""

    def test_large_sparse_file_bounded_memory(
        self, gcs_bucket: tuple[str, str], tmp_path: Path
    ) -> None:
        endpoint, bucket = gcs_bucket
        sparse = tmp_path / "sparse"
        with open(sparse, "wb") as f:
            f.truncate(80 * 1024 * 1024)
        code = f"""
from google.auth.credentials import AnonymousCredentials
from fsreplica.destinations import SourceFile
from fsreplica.destinations.gcs import GCSDestination
dest = GCSDestination.from_url("gs://{bucket}/p", endpoint_url="{endpoint}",
    credentials=AnonymousCredentials(), chunk_size=8 * 1024 * 1024)
with SourceFile({str(sparse)!r}) as source:
    info = dest.put("sparse", source)
with open("/proc/self/status") as status:
    hwm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(info.size, hwm_kib // 1024)
"""
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=28, check=True
        )
        size, hwm_mib = map(int, done.stdout.split())
        assert size == 80 * 1024 * 1024
        # The interpreter and the client libraries take about 50 MiB, the upload two chunks (64
        # MiB measured); the file read whole would take 130. A larger file is not slower here
        # but on the emulator, which copies what it has at each chunk (quadratic).
        assert hwm_mib < 85, f"peak RSS {hwm_mib} MiB for an 80 MiB file in 8 MiB chunks"
        with fakegcs.client(endpoint) as gcs:
            blob = gcs.bucket(bucket).get_blob("p/sparse")
        assert blob.size == 80 * 1024 * 1024

    def test_interrupted_upload_leaves_nothing(self, open_gcs: OpenDest, tmp_path: Path) -> None:
        dest = open_gcs(resumable_threshold=0, chunk_size=256 * 1024)
        path = tmp_path / "grows"
        path.write_bytes(os.urandom(1024 * 1024))
        with SourceFile(path) as source:
            with open(path, "ab") as f:
                f.write(b"more")  # after opening: the last chunk is never sent
            with pytest.raises(SourceChangedError):
                dest.put("grows", source)
        assert list(dest.list()) == []
