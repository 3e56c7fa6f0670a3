"""`list_dir`, in C and in Python: the same listing, the same reuse of unchanged signatures."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fsreplica.watch import _listing, inotify
from fsreplica.watch._listing import Listing, Signature

ListDir = Callable[[str, dict[str, Signature]], Listing]

IMPLEMENTATIONS: list[object] = [pytest.param(_listing.list_dir_python, id="python")]
if _listing.list_dir_native is not None:
    IMPLEMENTATIONS.append(pytest.param(_listing.list_dir_native, id="native"))


def test_native_is_built_where_required() -> None:
    # CI sets this: the benchmarks and the users' installs measure the C version, so a build
    # that silently fell back to Python must fail there rather than pass slower.
    if os.environ.get("FSREPLICA_REQUIRE_NATIVE") != "1":
        pytest.skip("FSREPLICA_REQUIRE_NATIVE is not set")
    assert _listing.list_dir_native is not None
    assert _listing.list_dir is _listing.list_dir_native


def _tree(root: Path) -> None:
    (root / "a.txt").write_text("hello")
    (root / "b").write_bytes(b"")
    (root / "sub").mkdir()
    (root / "sub" / "inner").write_text("x")
    os.symlink("a.txt", root / "link")
    os.symlink("sub", root / "dirlink")
    os.symlink("/nonexistent", root / "dangling")
    os.mkfifo(root / "fifo")
    (root / os.fsdecode(b"caf\xe9")).write_text("latin-1 name")
    (root / ("n" * 255)).write_text("longest name")


@pytest.mark.parametrize("list_dir", IMPLEMENTATIONS)
class TestListDir:
    def test_first_listing(self, list_dir: ListDir, tmp_path: Path) -> None:
        _tree(tmp_path)
        files, subdirs, fresh = list_dir(str(tmp_path), {})
        names = {"a.txt", "b", os.fsdecode(b"caf\xe9"), "n" * 255}
        assert set(files) == names
        assert sorted(fresh) == sorted(names)
        assert subdirs == ["sub"]  # symlinks to directories are not followed
        st = os.lstat(tmp_path / "a.txt")
        assert files["a.txt"] == (st.st_ino, st.st_size, st.st_mtime_ns)

    def test_unchanged_files_keep_their_tuple(self, list_dir: ListDir, tmp_path: Path) -> None:
        _tree(tmp_path)
        before, _, _ = list_dir(str(tmp_path), {})
        (tmp_path / "b").write_text("now longer")
        (tmp_path / "new").write_text("x")
        after, _, fresh = list_dir(str(tmp_path), before)
        assert sorted(fresh) == ["b", "new"]
        for name in set(before) - {"b"}:
            assert after[name] is before[name]
        assert after["b"] != before["b"]

    def test_any_field_counts(self, list_dir: ListDir, tmp_path: Path) -> None:
        (tmp_path / "f").write_text("x")
        files, _, _ = list_dir(str(tmp_path), {})
        ino, size, mtime = files["f"]
        for stale in ((ino + 1, size, mtime), (ino, size + 1, mtime), (ino, size, mtime - 1)):
            again, _, fresh = list_dir(str(tmp_path), {"f": stale})
            assert fresh == ["f"]
            assert again["f"] == (ino, size, mtime)

    def test_malformed_previous_signature_is_a_change(
        self, list_dir: ListDir, tmp_path: Path
    ) -> None:
        (tmp_path / "f").write_text("x")
        bogus: dict[str, object] = {"f": ("not", "a", "signature")}
        _, _, fresh = list_dir(str(tmp_path), bogus)  # type: ignore[arg-type]
        assert fresh == ["f"]

    def test_empty_directory(self, list_dir: ListDir, tmp_path: Path) -> None:
        assert list_dir(str(tmp_path), {}) == ({}, [], [])

    def test_large_directory(self, list_dir: ListDir, tmp_path: Path) -> None:
        # More entries than the first growth of the C buffers, names of every length.
        names = {f"{'x' * (i % 200)}{i}" for i in range(3000)}
        for name in names:
            (tmp_path / name).write_bytes(b"")
        files, _, fresh = list_dir(str(tmp_path), {})
        assert set(files) == names == set(fresh)

    @pytest.mark.parametrize("missing", ["gone", "a-file"])
    def test_unlistable_path_raises(self, list_dir: ListDir, tmp_path: Path, missing: str) -> None:
        (tmp_path / "a-file").write_text("x")
        with pytest.raises(OSError) as info:
            list_dir(str(tmp_path / missing), {})
        assert info.value.errno in (2, 20)  # ENOENT, ENOTDIR


KINDS: list[object] = [pytest.param(inotify._kind_python, id="python")]
if _listing.list_dir_native is not None:
    from fsreplica.watch import _scan

    KINDS.append(pytest.param(_scan.is_regular, id="native"))


@pytest.mark.parametrize("kind", KINDS)
def test_kind_of_a_released_path(kind: Callable[[str], int], tmp_path: Path) -> None:
    """What the inotify backend asks at release: regular file, something else, or gone."""
    _tree(tmp_path)
    assert kind(str(tmp_path / "a.txt")) == 1
    assert kind(os.fsdecode(bytes(tmp_path) + b"/caf\xe9")) == 1
    for other in ("sub", "link", "dangling", "fifo"):  # symlinks are not followed
        assert kind(str(tmp_path / other)) == 0, other
    assert kind(str(tmp_path / "missing")) == -1
    assert kind(str(tmp_path / "a.txt" / "below-a-file")) == -1
