"""Recursive watching without races: new, moved, renamed and removed directories."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .conftest import write


def _tree(base: Path, files: list[str]) -> None:
    for rel in files:
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, rel)


FILES = ["top.txt", "a/one", "a/b/two", "a/b/c/three", "a/d/four"]


class TestNewDirectories:
    """Files created before the watch on their new directory exists are still reported."""

    def test_mkdir_p_and_write_race(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path)
        expected = set()
        for i in range(100):
            subprocess.run(
                ["sh", "-c", f"mkdir -p r{i}/b/c && echo x > r{i}/b/c/f"], cwd=tmp_path, check=True
            )
            expected.add(f"r{i}/b/c/f")
        assert events.wait(lambda: expected <= events.seen()), events.summary()

    def test_python_makedirs_race(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path, debounce_delay=0)
        expected = set()
        for i in range(300):
            d = tmp_path / f"d{i}" / "x" / "y"
            d.mkdir(parents=True)
            write(d / "f", "x")
            expected.add(f"d{i}/x/y/f")
        assert events.wait(lambda: expected <= events.seen()), events.summary()

    def test_recreated_directory_is_watched(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "d").mkdir()
        _, events = make_watcher(tmp_path)
        for round_ in range(3):
            write(tmp_path / "d" / "f", str(round_))
            events.wait(lambda: events.final().get("d/f") == "put")
            shutil.rmtree(tmp_path / "d")
            assert events.wait(lambda: events.final().get("d/f") == "delete")
            (tmp_path / "d").mkdir()


class TestMoves:
    """Whole directories moved in, out and within the tree expand to per-file events."""

    def test_directory_moved_in(self, tmp_path: Path, make_watcher) -> None:
        inside, outside = tmp_path / "in", tmp_path / "out"
        inside.mkdir()
        _tree(outside / "pkg", FILES)
        _, events = make_watcher(inside)
        os.rename(outside / "pkg", inside / "pkg")
        expected = {f"pkg/{f}" for f in FILES}
        assert events.wait(lambda: expected <= events.seen()), events.summary()
        write(inside / "pkg" / "a" / "b" / "new", "n")
        events.wait_key("pkg/a/b/new")

    def test_directory_moved_out(self, tmp_path: Path, make_watcher) -> None:
        inside, outside = tmp_path / "in", tmp_path / "out"
        _tree(inside / "pkg", FILES)
        outside.mkdir()
        watcher, events = make_watcher(inside)
        os.rename(inside / "pkg", outside / "pkg")
        expected = {f"pkg/{f}" for f in FILES}
        assert events.wait(lambda: expected <= events.seen("delete")), events.summary()
        write(outside / "pkg" / "a" / "later", "not ours")
        events.marker(inside)
        assert all(not e.key.endswith("later") for e in events.events)
        assert watcher.stats.watches == 1

    def test_directory_removed(self, tmp_path: Path, make_watcher) -> None:
        _tree(tmp_path / "pkg", FILES)
        watcher, events = make_watcher(tmp_path)
        shutil.rmtree(tmp_path / "pkg")
        expected = {f"pkg/{f}" for f in FILES}
        assert events.wait(lambda: expected <= events.seen("delete")), events.summary()
        events.marker(tmp_path)
        assert watcher.stats.watches == 1

    def test_directory_renamed_inside(self, tmp_path: Path, make_watcher) -> None:
        _tree(tmp_path / "old", FILES)
        _, events = make_watcher(tmp_path)
        os.rename(tmp_path / "old", tmp_path / "new")
        new = {f"new/{f}" for f in FILES}
        old = {f"old/{f}" for f in FILES}
        assert events.wait(lambda: new <= events.seen() and old <= events.seen("delete"))
        moved = {e.key: e.moved_from for e in events.events if e.operation == "put"}
        assert moved == {f"new/{f}": f"old/{f}" for f in FILES}
        write(tmp_path / "new" / "a" / "b" / "two", "changed")
        event = events.wait(lambda: sum(e.key == "new/a/b/two" for e in events.events) >= 2)
        assert event
        assert all(not e.key.startswith("old/") or e.operation == "delete" for e in events.events)

    def test_nested_renames_keep_later_paths_right(self, tmp_path: Path, make_watcher) -> None:
        _tree(tmp_path / "a", ["b/f"])
        _, events = make_watcher(tmp_path, debounce_delay=0)
        os.rename(tmp_path / "a" / "b", tmp_path / "a" / "c")
        os.rename(tmp_path / "a", tmp_path / "z")
        write(tmp_path / "z" / "c" / "g", "x")
        events.wait_key("z/c/g")
        assert events.wait(lambda: events.final().get("z/c/f") == "put")
        final = events.final()
        assert final.get("a/b/f") == "delete"
        assert final.get("a/c/f") in ("delete", None)

    def test_rename_into_ignored_name_is_a_move_out(self, tmp_path: Path, make_watcher) -> None:
        _tree(tmp_path / "d", ["f"])
        _, events = make_watcher(tmp_path)
        os.rename(tmp_path / "d", tmp_path / ".d")
        events.wait_key("d/f", "delete")
        write(tmp_path / ".d" / "g", "x")
        events.marker(tmp_path)
        assert "g" not in {Path(e.key).name for e in events.events}

    def test_rename_from_ignored_name_is_a_move_in(self, tmp_path: Path, make_watcher) -> None:
        _tree(tmp_path / ".staging", ["f", "sub/g"])
        _, events = make_watcher(tmp_path)
        os.rename(tmp_path / ".staging", tmp_path / "release")
        assert events.wait(lambda: {"release/f", "release/sub/g"} <= events.seen())

    def test_git_checkout_style_churn(self, tmp_path: Path, make_watcher) -> None:
        """Many renames, removals and rewrites: the final state matches the disk."""
        _tree(tmp_path, [f"src/m{i}/file{j}.py" for i in range(10) for j in range(10)])
        _, events = make_watcher(tmp_path)
        for i in range(0, 10, 2):
            shutil.rmtree(tmp_path / "src" / f"m{i}")
        for i in range(1, 10, 2):
            os.rename(tmp_path / "src" / f"m{i}", tmp_path / "src" / f"n{i}")
            write(tmp_path / "src" / f"n{i}" / "file0.py", "changed")
        _tree(tmp_path, [f"lib/x{i}.py" for i in range(20)])
        on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
        assert events.wait(
            lambda: {k for k, op in events.final().items() if op == "put"} >= on_disk
        )
        events.marker(tmp_path)
        final = events.final()
        assert {k for k, op in final.items() if op == "put"} == on_disk


class TestRenameRaces:
    """A directory renamed right after files were written into it."""

    def test_files_written_then_directory_renamed_at_once(
        self, tmp_path: Path, make_watcher
    ) -> None:
        _, events = make_watcher(tmp_path)
        for round_ in range(10):
            old, new = tmp_path / f"docs{round_}", tmp_path / f"papers{round_}"
            old.mkdir()
            events.marker(tmp_path)
            for i in range(20):
                write(old / f"n{i}.txt", str(i))
            old.rename(new)
            expected = {f"papers{round_}/n{i}.txt" for i in range(20)}
            assert events.wait(
                lambda e=expected: e <= {k for k, op in events.final().items() if op == "put"}
            ), events.summary()

    def test_new_subdirectories_then_parent_renamed_at_once(
        self, tmp_path: Path, make_watcher
    ) -> None:
        _, events = make_watcher(tmp_path)
        for round_ in range(10):
            old, new = tmp_path / f"a{round_}", tmp_path / f"z{round_}"
            old.mkdir()
            events.marker(tmp_path)
            (old / "b" / "c").mkdir(parents=True)
            write(old / "b" / "c" / "f", "x")
            write(old / "b" / "g", "y")
            old.rename(new)
            expected = {f"z{round_}/b/c/f", f"z{round_}/b/g"}
            assert events.wait(
                lambda e=expected: e <= {k for k, op in events.final().items() if op == "put"}
            ), events.summary()
