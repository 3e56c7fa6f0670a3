"""LocalDestination specifics: never writes outside its root, hash in an xattr, temp files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import fsreplica
from fsreplica.destinations import _SCHEMES, SourceFile, open_destination, register_destination
from fsreplica.destinations.local import XATTR_SHA256, LocalDestination
from fsreplica.destinations.memory import MemoryDestination


def put(dest: LocalDestination, key: str, path: Path) -> None:
    with SourceFile(str(path)) as source:
        dest.put(key, source)


@pytest.fixture
def src_file(tmp_path: Path) -> Path:
    path = tmp_path / "source.txt"
    path.write_bytes(b"payload")
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "victim").write_bytes(b"do not touch")
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


class TestNoEscape:
    """A symlink inside the destination never lets a write or delete escape the root."""

    def test_symlinked_directory_component(
        self, tmp_path: Path, src_file: Path, outside: Path
    ) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        (root / "sub").symlink_to(outside)
        with LocalDestination(root) as dest:
            put(dest, "sub/victim", src_file)
            put(dest, "sub/new", src_file)
            dest.delete("sub/victim")
        assert tree(outside) == {"victim": b"do not touch"}
        assert not (root / "sub").is_symlink()

    def test_symlinked_file_is_replaced_not_followed(
        self, tmp_path: Path, src_file: Path, outside: Path
    ) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        (root / "link").symlink_to(outside / "victim")
        with LocalDestination(root) as dest:
            with pytest.raises(FileNotFoundError):
                dest.stat("link")
            assert [i.key for i in dest.list()] == []
            put(dest, "link", src_file)
            assert (root / "link").read_bytes() == b"payload"
        assert (outside / "victim").read_bytes() == b"do not touch"

    def test_symlink_is_never_deleted_through(self, tmp_path: Path, outside: Path) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        (root / "d").symlink_to(outside)
        with LocalDestination(root) as dest:
            dest.delete("d/victim")
            with pytest.raises(FileNotFoundError):
                dest.rename("d/victim", "stolen")
            assert list(dest.list()) == []
        assert (outside / "victim").exists()


class TestHashes:
    """The content hash is kept in an xattr and reported only while it is current."""

    def test_hash_reported_by_stat_and_list(self, tmp_path: Path, src_file: Path) -> None:
        with LocalDestination(tmp_path / "dest") as dest:
            put(dest, "k", src_file)
            info = dest.stat("k")
            assert info.sha256 is not None
            assert [i.sha256 for i in dest.list()] == [info.sha256]
            assert os.getxattr(tmp_path / "dest" / "k", XATTR_SHA256).startswith(
                info.sha256.encode()
            )

    def test_edited_at_destination_has_no_hash(self, tmp_path: Path, src_file: Path) -> None:
        with LocalDestination(tmp_path / "dest") as dest:
            put(dest, "k", src_file)
            (tmp_path / "dest" / "k").write_bytes(b"changed by someone")
            assert dest.stat("k").sha256 is None


class TestTempFiles:
    """Interrupted puts leave no visible garbage."""

    def test_stale_temp_files_are_removed_by_list(self, tmp_path: Path, src_file: Path) -> None:
        root = tmp_path / "dest"
        (root / "a").mkdir(parents=True)
        (root / "a" / ".fsreplica-0123456789abcdef.part").write_bytes(b"half")
        with LocalDestination(root) as dest:
            put(dest, "a/k", src_file)
            assert [i.key for i in dest.list()] == ["a/k"]
        assert sorted(os.listdir(root / "a")) == ["k"]

    def test_failed_put_leaves_nothing(self, tmp_path: Path, src_file: Path) -> None:
        root = tmp_path / "dest"
        with LocalDestination(root) as dest, SourceFile(str(src_file)) as source:
            src_file.write_bytes(b"changed")
            with pytest.raises(fsreplica.FsreplicaError):
                dest.put("k", source)
        assert os.listdir(root) == []


class TestOpenDestination:
    """URL scheme registry."""

    def test_paths_and_file_urls(self, tmp_path: Path) -> None:
        for target in (str(tmp_path / "p"), f"file://{tmp_path}/u", tmp_path / "q"):
            dest = open_destination(target)
            assert isinstance(dest, LocalDestination)
            dest.close()
        assert fsreplica.open_destination is open_destination

    def test_memory(self) -> None:
        assert isinstance(open_destination("memory://x"), MemoryDestination)

    def test_unknown_scheme(self) -> None:
        with pytest.raises(ValueError, match="unknown destination scheme"):
            open_destination("gopher://host/x")

    def test_missing_extra_names_it(self) -> None:
        register_destination("nope", "fsreplica_missing_module:X", extra="nope")
        try:
            with pytest.raises(ImportError, match=r"fsreplica\[nope\]"):
                open_destination("nope://x")
        finally:
            _SCHEMES.pop("nope")
