"""The watched tree's bookkeeping: packed file names, moves, detaching."""

from __future__ import annotations

import sys
from pathlib import Path

from fsreplica.filters import IgnoreRules
from fsreplica.watch._budget import plan
from fsreplica.watch._overflow import changed_since
from fsreplica.watch._tree import DirNode, Root


def _tree() -> tuple[Root, DirNode, DirNode]:
    root = Root("/r")
    top = DirNode(root, None, "", 1, 10)
    sub = DirNode(root, top, "a", 2, 11)
    top.add_child("a", sub)
    root.node = top
    return root, top, sub


class TestFiles:
    """Names are packed until the first change, then held in a set; both answer the same."""

    def test_packed_then_set(self) -> None:
        _, top, _ = _tree()
        assert top.file_names() == []
        assert not top.has_file("x")
        top.set_scanned([])
        top.set_scanned(["x", "y"])
        assert isinstance(top.files, str)
        assert top.has_file("x")
        assert not top.has_file("")  # no false match on the separators
        top.add_file("x")  # already there: stays packed
        assert isinstance(top.files, str)
        top.discard_file("zz")  # not there: stays packed
        assert isinstance(top.files, str)
        top.add_file("z")
        assert isinstance(top.files, set)
        assert sorted(top.file_names()) == ["x", "y", "z"]
        top.discard_file("x")
        top.set_scanned(["w"])
        assert sorted(top.file_names()) == ["w", "y", "z"]
        top.clear_files()
        assert top.file_names() == []

    def test_discard_from_packed(self) -> None:
        _, top, _ = _tree()
        top.set_scanned(["a", "b"])
        top.discard_file("a")
        assert top.file_names() == ["b"]


class TestShape:
    """Keys follow moves; detaching marks a subtree dead."""

    def test_move_rekeys_subtree(self) -> None:
        root, top, sub = _tree()
        deep = DirNode(root, sub, "b", 3, 12)
        sub.add_child("b", deep)
        deep.set_scanned(["f"])
        assert list(top.known_keys()) == ["a/b/f"]
        other = DirNode(root, top, "z", 4, 13)
        top.add_child("z", other)
        sub.move(other, "c")
        assert "a" not in top.children
        assert deep.key == "z/c/b"
        assert deep.path == "/r/z/c/b"
        assert list(other.known_keys()) == ["z/c/b/f"]

    def test_detach(self) -> None:
        _, top, sub = _tree()
        nodes = sub.detach()
        assert nodes == [sub]
        assert not sub.alive
        assert top.children == {}
        assert sub.detach() == [sub]  # already detached: harmless

    def test_intact(self, tmp_path: Path) -> None:
        root = Root(str(tmp_path))
        node = DirNode(root, None, "", 1, tmp_path.stat().st_ino)
        assert node.intact()
        node.ino += 1
        assert not node.intact()
        root.path = str(tmp_path / "missing")
        node._place()
        assert not node.intact()

    def test_count_dirs(self, tmp_path: Path) -> None:
        """The count the watch-limit message gives: what the watches would need."""
        (tmp_path / "a" / "b").mkdir(parents=True)
        (tmp_path / ".git" / "x").mkdir(parents=True)
        (tmp_path / "f").write_text("x")

        def count(path: Path, patterns: list[str]) -> int:
            return plan(str(path), IgnoreRules(patterns), sys.maxsize).needed

        assert count(tmp_path, []) == 5
        assert count(tmp_path, [".*"]) == 3
        assert count(tmp_path / "missing", []) == 1


class TestOverflowMargin:
    """After an overflow, a file is re-checked if it may have changed after the watermark."""

    def test_margins(self) -> None:
        second = 1_000_000_000
        watermark = 100 * second
        assert changed_since(watermark + 1, watermark)
        assert changed_since(watermark - 10_000_000 + 7, watermark)  # within a clock tick
        # within the time a large write takes between stamping the inode and queueing its event
        assert changed_since(watermark - second + 7, watermark)
        assert not changed_since(watermark - 3 * second // 2 + 7, watermark)
        # a whole-second ctime: a coarse file system, whose times may lag by up to 2 s
        assert changed_since(watermark - second, watermark)
        assert not changed_since(watermark - 3 * second, watermark)
