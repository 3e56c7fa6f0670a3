"""`fsreplica.restore.restore` as a library call, on the memory destination."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fsreplica import Replicator
from fsreplica.destinations import ObjectInfo, SourceFile
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.errors import RestoreError
from fsreplica.restore import Overwrite, Restore, restore

MTIME = 1_700_000_000_987_654_321


def tree(root: Path) -> dict[str, tuple[bytes, int, int]]:
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith(".fsreplica-restore"):
            st = path.stat()
            out[str(path.relative_to(root))] = (path.read_bytes(), st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, MemoryDestination]:
    source = tmp_path / "src"
    (source / "d").mkdir(parents=True)
    for i, (name, mode) in enumerate([("a", 0o640), ("d/b", 0o755), ("bad\udcff", 0o600)]):
        path = source / name
        path.write_bytes(name.encode("utf-8", "surrogateescape") * 100)
        path.chmod(mode)
        os.utime(path, ns=(MTIME + i, MTIME + i))
    dest = MemoryDestination()
    with Replicator(source, dest, state=tmp_path / "state.db") as replicator:
        assert replicator.sync_all().ok
    return source, dest


class TestLibrary:
    """Round trip, refusals and options through the Python API."""

    def test_round_trip(self, tmp_path: Path, synced: tuple[Path, MemoryDestination]) -> None:
        source, dest = synced
        report = restore(dest, tmp_path / "out", transfers=2)
        assert (report.restored, report.failed, report.ok) == (3, [], True)
        assert tree(tmp_path / "out") == tree(source)

    def test_dry_run_and_refusals(
        self, tmp_path: Path, synced: tuple[Path, MemoryDestination]
    ) -> None:
        _, dest = synced
        report = Restore(dest, tmp_path / "out", dry_run=True).run()
        assert report.planned == [("create", "a"), ("create", "bad\udcff"), ("create", "d/b")]
        assert not (tmp_path / "out").exists()
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "x").write_bytes(b"")
        with pytest.raises(RestoreError, match="not empty"):
            restore(dest, tmp_path / "out")
        with pytest.raises(RestoreError, match="keeps no earlier versions"):
            restore(dest, tmp_path / "other", at=0)
        report = restore(dest, tmp_path / "out", force=True, overwrite=Overwrite.NEVER)
        assert report.restored == 3

    def test_interrupted_before_it_starts(
        self, tmp_path: Path, synced: tuple[Path, MemoryDestination]
    ) -> None:
        _, dest = synced
        job = Restore(dest, tmp_path / "out")
        job.interrupt()
        report = job.run()
        assert report.restored == 0
        assert os.listdir(tmp_path / "out") == [".fsreplica-restore"]
        assert restore(dest, tmp_path / "out").restored == 3  # resumed, no force needed
        assert os.listdir(tmp_path / "out") != [".fsreplica-restore"]

    def test_a_read_failure_is_one_files_failure(
        self, tmp_path: Path, synced: tuple[Path, MemoryDestination]
    ) -> None:
        _, dest = synced
        from fsreplica.errors import DestinationError  # noqa: PLC0415

        dest.fail("read", DestinationError("read", "memory://a", "connection reset"))
        report = restore(dest, tmp_path / "out", transfers=1)
        assert len(report.failed) == 1
        assert report.failed[0][1] == "connection reset"
        assert report.restored == 2
        assert os.path.exists(tmp_path / "out" / ".fsreplica-restore")  # run again to finish


class Unreadable:
    """A destination without the read capability."""

    url = "unreadable://"

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def stat(self, key: str) -> ObjectInfo:
        raise NotImplementedError

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return iter(())

    def close(self) -> None:
        pass


def test_a_destination_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(RestoreError, match="cannot be read back"):
        restore(Unreadable(), tmp_path / "out")
