"""The polling backend's snapshot walk, called directly: what a poll keeps and what it finds."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import fsreplica
from fsreplica.pipeline import Channel
from fsreplica.watch.polling import PollingBackend


@pytest.fixture
def backend() -> Iterator[PollingBackend]:
    """A polling backend whose own polls never come (the test polls)."""
    config = fsreplica.WatcherConfig(backend="polling", poll_interval=3600, debounce_delay=0)
    polling = PollingBackend(config, Channel(1000))
    yield polling
    polling.stop()


def _snapshot(backend: PollingBackend, root: Path) -> dict[str, dict[str, tuple[int, int, int]]]:
    return backend._trees[str(root)].dirs


class TestSnapshot:
    """Signatures by (inode, size, mtime_ns); unchanged entries keep their tuple."""

    def test_unchanged_tree_keeps_every_tuple(
        self, backend: PollingBackend, tmp_path: Path
    ) -> None:
        (tmp_path / "d").mkdir()
        for name in ("a", "d/b"):
            (tmp_path / name).write_text("x")
        backend.watch(str(tmp_path))
        before = {d: dict(files) for d, files in _snapshot(backend, tmp_path).items()}
        backend._poll(backend._trees[str(tmp_path)], emit=False)
        after = _snapshot(backend, tmp_path)
        assert after.keys() == before.keys() == {"", "d"}
        for dkey, files in before.items():
            assert all(after[dkey][name] is sig for name, sig in files.items())

    def test_changes_found_and_ignores_kept(self, backend: PollingBackend, tmp_path: Path) -> None:
        (tmp_path / "keep").write_text("x")
        (tmp_path / "gone").write_text("x")
        backend.watch(str(tmp_path))
        (tmp_path / "keep").write_text("longer")
        (tmp_path / "gone").unlink()
        (tmp_path / "new").write_text("x")
        (tmp_path / "skip.tmp").write_text("x")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "f").write_text("x")
        os.symlink("keep", tmp_path / "link")
        backend._poll(backend._trees[str(tmp_path)], emit=False)
        snap = _snapshot(backend, tmp_path)
        assert set(snap[""]) == {"keep", "new"}
        assert snap[""]["keep"][1] == len("longer")
        assert set(snap["sub"]) == {"f"}

    def test_known_name_replaced_by_directory(
        self, backend: PollingBackend, tmp_path: Path
    ) -> None:
        (tmp_path / "x").write_text("x")
        backend.watch(str(tmp_path))
        (tmp_path / "x").unlink()
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "inner").write_text("y")
        backend._poll(backend._trees[str(tmp_path)], emit=False)
        snap = _snapshot(backend, tmp_path)
        assert "x" not in snap[""]
        assert set(snap["x"]) == {"inner"}


class TestReleaseKeepsTheSnapshotHonest:
    """What a release reports becomes what the next poll compares against."""

    def test_put_released_after_a_poll_saw_the_file_gone(self, tmp_path: Path) -> None:
        # The file is seen gone, comes back before the end of its window (released as a put from
        # what is on disk), then goes for good before the next poll. That poll must see it gone
        # and deliver the delete: a snapshot still without the file would see nothing, and the
        # consumer would keep a put for a file that no longer exists.
        config = fsreplica.WatcherConfig(backend="polling", poll_interval=3600, debounce_delay=3600)
        channel: Channel[object] = Channel(1000)
        backend = PollingBackend(config, channel)  # type: ignore[arg-type]
        try:
            f = tmp_path / "f"
            f.write_text("1")
            backend.watch(str(tmp_path))
            tree = backend._trees[str(tmp_path)]
            f.write_text("two")
            backend._poll(tree, emit=True)  # first change: released at once
            f.unlink()
            backend._poll(tree, emit=True)  # held until the end of the window
            f.write_text("three")
            for rel in backend._deb.drain():  # the window ends: the file is there again
                backend._release(rel)
            f.unlink()
            backend._poll(tree, emit=True)
            for rel in backend._deb.drain():
                backend._release(rel)
            backend._out.flush()
            events = [(e.operation, e.key) for e in channel.drain()]  # type: ignore[attr-defined]
        finally:
            backend.stop()
        assert events == [("put", "f"), ("put", "f"), ("delete", "f")]
