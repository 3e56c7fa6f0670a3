"""`entries`, in C and in Python: one directory's entries and their lstat, the same from both."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from fsreplica.destinations import _listdir
from fsreplica.destinations._listdir import Entry

Entries = Callable[[int], list[Entry]]

IMPLEMENTATIONS: list[object] = [pytest.param(_listdir.entries_python, id="python")]
if _listdir.entries_native is not None:
    IMPLEMENTATIONS.append(pytest.param(_listdir.entries_native, id="native"))


def test_native_is_built_where_required() -> None:
    # CI sets this: a build that silently fell back to Python must fail there, not pass slower.
    if os.environ.get("FSREPLICA_REQUIRE_NATIVE") != "1":
        pytest.skip("FSREPLICA_REQUIRE_NATIVE is not set")
    assert _listdir.entries is _listdir.entries_native


def listed(entries: Entries, path: Path) -> dict[str, tuple[int, int, int]]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return {name: (mode, size, mtime) for name, mode, size, mtime in entries(fd)}
    finally:
        os.close(fd)


@pytest.mark.parametrize("entries", IMPLEMENTATIONS)
def test_every_kind_of_entry(entries: Entries, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner").write_text("not listed: one directory only")
    os.symlink("a.txt", tmp_path / "link")
    os.symlink("sub", tmp_path / "dirlink")
    os.mkfifo(tmp_path / "fifo")
    odd = os.fsdecode(b"caf\xe9 \n")  # not UTF-8, and a newline
    (tmp_path / odd).write_bytes(b"12345")
    (tmp_path / ("n" * 255)).write_text("")
    got = listed(entries, tmp_path)
    assert set(got) == {"a.txt", "sub", "link", "dirlink", "fifo", odd, "n" * 255}
    assert got["sub"] == (stat.S_IFDIR, 0, 0)  # a directory is not lstat'ed
    for name in set(got) - {"sub"}:
        st = os.lstat(tmp_path / name)
        assert got[name] == (st.st_mode, st.st_size, st.st_mtime_ns), name
    assert stat.S_ISLNK(got["dirlink"][0])  # never followed
    assert stat.S_ISFIFO(got["fifo"][0])


@pytest.mark.parametrize("entries", IMPLEMENTATIONS)
def test_the_same_answer_from_both(entries: Entries, tmp_path: Path) -> None:
    for n in range(3000):  # more than one getdents buffer, more than one growth of the arrays
        (tmp_path / f"file-{n:05d}-{'x' * (n % 200)}").write_bytes(b"x" * (n % 7))
    assert listed(entries, tmp_path) == listed(_listdir.entries_python, tmp_path)


@pytest.mark.parametrize("entries", IMPLEMENTATIONS)
def test_the_fd_is_left_as_it_was(entries: Entries, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        first = entries(fd)
        assert entries(fd) == first  # read from the start again
        os.fstat(fd)  # still open
    finally:
        os.close(fd)


@pytest.mark.parametrize("entries", IMPLEMENTATIONS)
def test_not_a_directory(entries: Entries, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("f")
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        with pytest.raises(NotADirectoryError):
            entries(fd)
    finally:
        os.close(fd)
