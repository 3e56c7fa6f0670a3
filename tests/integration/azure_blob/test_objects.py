"""Block-list uploads, renames by server-side copy, metadata in place, conditional writes, names
Azure would change: AzureDestination against Azurite."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fsreplica.destinations import SourceChangedError, SourceFile
from fsreplica.destinations.azure import AzureDestination
from servers import azurite

OpenDest = Callable[..., AzureDestination]
MIB = 1024 * 1024


def write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def put(dest: AzureDestination, key: str, path: str) -> None:
    with SourceFile(path) as source:
        dest.put(key, source)


def blob_names(container: str) -> list[str]:
    with azurite.service() as service:
        return sorted(b.name for b in service.get_container_client(container).list_blobs())


class TestBlocks:
    """Large files go as blocks and a block list, streamed; a changed source publishes nothing."""

    def test_block_list_roundtrip(self, open_azure: OpenDest, tmp_path: Path) -> None:
        dest = open_azure(multipart_threshold=MIB, part_size=MIB)
        data = os.urandom(5 * MIB + 3)
        with SourceFile(write(tmp_path / "big", data)) as source:
            info = dest.put("dir/big", source)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        stored = dest.stat("dir/big")
        assert (stored.size, stored.sha256, stored.mtime_ns, stored.mode) == (
            len(data),
            info.sha256,
            info.mtime_ns,
            info.mode,
        )
        assert b"".join(dest.read("dir/big")) == data

    def test_source_changed_mid_upload_publishes_nothing(
        self, open_azure: OpenDest, container: str, tmp_path: Path
    ) -> None:
        dest = open_azure(multipart_threshold=MIB, part_size=MIB, upload_concurrency=1)
        path = write(tmp_path / "big", os.urandom(40 * MIB))
        errors: list[BaseException] = []

        def upload() -> None:
            try:
                put(dest, "big", path)
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=upload)
        worker.start()
        with azurite.service() as service:
            blob = service.get_blob_client(container, "p/big")
            deadline = time.monotonic() + 20
            while True:
                try:
                    if blob.get_block_list("uncommitted")[1]:
                        break
                except Exception:  # no block yet: the blob does not exist
                    pass
                assert time.monotonic() < deadline, "the block upload never started"
                time.sleep(0.01)
        with open(path, "ab") as f:
            f.write(b"changed while uploading")
        worker.join(timeout=25)
        assert [type(e) for e in errors] == [SourceChangedError]
        with pytest.raises(FileNotFoundError):
            dest.stat("big")


class TestRenameAndMetadata:
    """Renames are a server-side copy plus a delete; metadata changes in place."""

    def test_rename_keeps_metadata(self, open_azure: OpenDest, tmp_path: Path) -> None:
        dest = open_azure()
        path = write(tmp_path / "f", b"content")
        os.utime(path, ns=(1_500_000_000_000_000_001, 1_500_000_000_000_000_001))
        put(dest, "old/name", path)
        os.unlink(path)  # no source any more: only a server-side copy can produce the blob
        info = dest.rename("old/name", "new/name")
        assert info.mtime_ns == 1_500_000_000_000_000_001
        assert [i.key for i in dest.list()] == ["new/name"]
        assert b"".join(dest.read("new/name")) == b"content"
        with pytest.raises(FileNotFoundError):
            dest.rename("old/name", "again")

    def test_set_metadata_in_place(
        self, open_azure: OpenDest, container: str, tmp_path: Path
    ) -> None:
        dest = open_azure()
        put(dest, "k", write(tmp_path / "f", b"data"))
        info = dest.set_metadata("k", mtime_ns=42_000_000_001, mode=0o600)
        stored = dest.stat("k")
        assert (stored.mtime_ns, stored.mode, stored.sha256) == (42_000_000_001, 0o600, info.sha256)
        with azurite.service() as service:
            props = service.get_blob_client(container, "p/k").get_blob_properties()
        assert props.metadata["mtime"] == "42.000000001"
        assert props.metadata["mode"] == "100600"
        assert "fsreplica_ctime_ns" in props.metadata
        assert b"".join(dest.read("k")) == b"data"
        with pytest.raises(FileNotFoundError):
            dest.set_metadata("missing", mtime_ns=1, mode=None)

    def test_listing_after_metadata_change_by_another(
        self, open_azure: OpenDest, tmp_path: Path
    ) -> None:
        """The cache notices an update it did not make (Azure lists ETags without quotes)."""
        first, second = open_azure(), open_azure()
        put(first, "k", write(tmp_path / "f", b"data"))
        assert [i.mtime_ns for i in first.list()] == [first.stat("k").mtime_ns]
        second.set_metadata("k", mtime_ns=7_000_000_000, mode=None)
        assert [i.mtime_ns for i in first.list()] == [7_000_000_000]


class TestConditionalWrites:
    """An older version never replaces a newer one, even from another replicator."""

    def test_second_replicator_cannot_overwrite_newer(
        self, open_azure: OpenDest, tmp_path: Path
    ) -> None:
        older = write(tmp_path / "older", b"version read first")
        time.sleep(0.01)  # distinct ctimes even on coarse clocks
        newer = write(tmp_path / "newer", b"version written later")
        first, second = open_azure(), open_azure()
        assert first.conditional  # Azurite honours If-None-Match
        put(first, "k", newer)
        with pytest.raises(SourceChangedError):
            put(second, "k", older)  # a slow replicator arriving late
        assert b"".join(first.read("k")) == b"version written later"
        put(second, "k", newer)  # the current version goes through (If-Match)
        rewritten = write(tmp_path / "newer", b"third")
        put(first, "k", rewritten)  # first's remembered ETag is stale: HEAD, then If-Match
        assert b"".join(second.read("k")) == b"third"

    def test_off_overwrites(self, open_azure: OpenDest, tmp_path: Path) -> None:
        older = write(tmp_path / "older", b"old")
        time.sleep(0.01)
        newer = write(tmp_path / "newer", b"new")
        dest = open_azure(conditional=False)
        put(dest, "k", newer)
        put(dest, "k", older)
        assert b"".join(dest.read("k")) == b"old"


class TestNames:
    """Names Azure would change are stored escaped and listed as they were."""

    @pytest.mark.parametrize(
        ("name", "blob"),
        [
            ("back\\slash", "back\u201b5Cslash"),
            ("dot./inner.", "dot\u201b2E/inner\u201b2E"),
            ("bad\udcff.txt", "bad\u201bFF.txt"),
            ("plain.txt", "plain.txt"),
        ],
    )
    def test_escaped(
        self, open_azure: OpenDest, container: str, tmp_path: Path, name: str, blob: str
    ) -> None:
        dest = open_azure()
        put(dest, name, write(tmp_path / "f", b"x"))
        assert blob_names(container) == [f"p/{blob}"]
        assert [i.key for i in dest.list()] == [name]
        assert dest.stat(name).size == 1
        dest.delete(name)
        assert blob_names(container) == []
