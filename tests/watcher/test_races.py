"""Races with the disk and the watcher's own failures: reported, never silent, never stuck."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import fsreplica
from fsreplica.errors import InternalError
from fsreplica.watch.inotify import InotifyBackend

from .conftest import WAIT, sysctl, write

MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"
pytestmark = pytest.mark.backends("inotify")


class TestChurn:
    """Directories that vanish before the watcher gets to them."""

    def test_directories_created_and_removed_at_once(self, tmp_path: Path, make_watcher) -> None:
        watcher, events = make_watcher(tmp_path)
        for i in range(300):
            d = tmp_path / f"d{i}"
            (d / "sub").mkdir(parents=True)
            write(d / "sub" / "f", "x")
            shutil.rmtree(d)
        events.marker(tmp_path)
        final = events.final()
        assert all(op == "delete" for op in final.values()), final
        assert events.errors == []
        assert watcher.stats.watches == 1

    def test_file_replaced_by_fifo(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "x", "data")
        _, events = make_watcher(tmp_path, debounce_delay=0)
        (tmp_path / "x").unlink()
        os.mkfifo(tmp_path / "x")
        events.wait_key("x", "delete")
        events.marker(tmp_path)
        assert events.final()["x"] == "delete"


class TestInternalFailure:
    """A bug in the watcher thread ends the stream with an error instead of hanging it."""

    def test_failure_is_reported_and_the_stream_ends(self, tmp_path: Path, monkeypatch) -> None:
        def broken(self: InotifyBackend, buf: bytes, drained_ns: int) -> None:
            raise RuntimeError("simulated bug")

        monkeypatch.setattr(InotifyBackend, "_handle", broken)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        watcher = fsreplica.Watcher()
        try:
            watcher.watch(tmp_path / "a")
            write(tmp_path / "a" / "f", "x")
            with pytest.raises(
                InternalError, match="fsreplica-inotify: RuntimeError: simulated bug"
            ):
                for _ in watcher.events():
                    pass
            with pytest.raises(fsreplica.WatcherStopped):
                watcher.watch(tmp_path / "b")
        finally:
            watcher.stop()
        assert list(watcher.events()) == []


@pytest.mark.sysctl
class TestOverflowRaces:
    """Overflow while directories and the root itself are replaced."""

    def _overflowing(self, root: Path, make_watcher):
        with sysctl(MAX_QUEUED_EVENTS, 16):
            watcher, events = make_watcher(root, debounce_delay=0, event_buffer=2, max_pending=2)
        events.running.clear()
        return watcher, events

    def test_directory_replaced_during_overflow(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "d").mkdir()
        write(tmp_path / "d" / "old", "x")
        watcher, events = self._overflowing(tmp_path, make_watcher)
        for i in range(100):
            write(tmp_path / f"n{i}", "x")
        shutil.rmtree(tmp_path / "d")
        (tmp_path / "d").mkdir()
        write(tmp_path / "d" / "new", "y")
        events.running.set()
        assert events.wait(
            lambda: (
                events.final().get("d/new") == "put" and events.final().get("d/old") == "delete"
            ),
            timeout=WAIT,
        ), events.summary()
        assert watcher.stats.overflows >= 1
        write(tmp_path / "d" / "later", "z")
        events.wait_key("d/later")

    def test_root_replaced_during_overflow(self, tmp_path: Path, make_watcher) -> None:
        root = tmp_path / "root"
        root.mkdir()
        watcher, events = self._overflowing(root, make_watcher)
        for i in range(100):
            write(root / f"n{i}", "x")
        os.rename(root, tmp_path / "moved")
        root.mkdir()
        events.running.set()
        assert events.wait(lambda: bool(events.errors), timeout=WAIT), events.summary()
        assert events.errors[0].path == str(root)
        assert watcher.stats.roots == 0


class TestLongPaths:
    """Paths longer than PATH_MAX cannot be watched: said clearly, and the rest keeps working."""

    def test_directory_beyond_path_max(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path)
        name = "d" * 200
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            for _ in range(25):  # 25 x 201 characters: past the 4,096 of PATH_MAX
                os.mkdir(name, dir_fd=fd)
                new = os.open(name, os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = new
        finally:
            os.close(fd)
        assert events.wait(lambda: bool(events.errors)), events.summary()
        message = str(events.errors[0])
        assert "File name too long" in message
        assert "\n" not in message
        write(tmp_path / "short", "x")
        events.wait_key("short")
