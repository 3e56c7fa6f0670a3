"""Less common paths: cross-root moves, replaced directories, runtime watch limits."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import fsreplica
from fsreplica.watch.inotify import InotifyBackend

from .conftest import sysctl, write

MAX_USER_WATCHES = "/proc/sys/fs/inotify/max_user_watches"
MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"


class TestEdges:
    """Moves between roots, directories renamed over others, aliases of a root."""

    def test_directory_moved_between_roots(self, tmp_path: Path, make_watcher) -> None:
        one, two = tmp_path / "one", tmp_path / "two"
        (one / "d" / "sub").mkdir(parents=True)
        two.mkdir()
        write(one / "d" / "sub" / "f", "x")
        _, events = make_watcher(one, two)
        os.rename(one / "d", two / "d")
        assert events.wait(
            lambda: (
                any(e.root == str(two) and e.key == "d/sub/f" for e in events.events)
                and any(
                    e.root == str(one) and e.key == "d/sub/f" and e.operation == "delete"
                    for e in events.events
                )
            )
        ), events.summary()
        assert all(e.moved_from is None for e in events.events)

    def test_file_moved_between_roots(self, tmp_path: Path, make_watcher) -> None:
        one, two = tmp_path / "one", tmp_path / "two"
        one.mkdir()
        two.mkdir()
        write(one / "f", "x")
        _, events = make_watcher(one, two)
        os.rename(one / "f", two / "g")
        events.wait_key("g")
        events.wait_key("f", "delete")

    def test_directory_renamed_over_an_empty_one(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "src").mkdir()
        write(tmp_path / "src" / "f", "x")
        (tmp_path / "dst").mkdir()
        watcher, events = make_watcher(tmp_path)
        os.rename(tmp_path / "src", tmp_path / "dst")
        events.wait_key("dst/f")
        events.wait_key("src/f", "delete")
        write(tmp_path / "dst" / "g", "y")
        events.wait_key("dst/g")
        assert watcher.stats.watches == 2

    def test_root_alias_is_refused(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "real").mkdir()
        os.symlink(tmp_path / "real", tmp_path / "alias")
        watcher, _ = make_watcher(tmp_path / "real")
        with pytest.raises(fsreplica.WatcherError, match="same directory as"):
            watcher.watch(tmp_path / "alias")

    def test_subdirectory_symlink_is_not_followed(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "root").mkdir()
        (tmp_path / "outside").mkdir()
        write(tmp_path / "outside" / "secret", "x")
        os.symlink(tmp_path / "outside", tmp_path / "root" / "link")
        watcher, events = make_watcher(tmp_path / "root")
        assert watcher.stats.watches in (0, 1)  # stats refresh lazily
        events.marker(tmp_path / "root")
        assert watcher.stats.watches == 1

    def test_stop_from_the_watchers_own_thread_is_refused(self, tmp_path: Path) -> None:
        with fsreplica.Watcher() as watcher:
            watcher.watch(tmp_path)
            backend = watcher._backends["inotify"]
            assert isinstance(backend, InotifyBackend)
            failures: list[BaseException] = []

            def call_stop() -> None:
                try:
                    backend.stop()
                except RuntimeError as exc:
                    failures.append(exc)

            backend._call(call_stop, str(tmp_path))
            assert len(failures) == 1


@pytest.mark.sysctl
@pytest.mark.backends("inotify")
class TestRuntimeLimits:
    """Limits hit while running are reported on the stream, and nothing else breaks."""

    def test_watch_limit_for_a_new_directory(self, tmp_path: Path, make_watcher) -> None:
        watcher, events = make_watcher(tmp_path)
        in_use = sum(1 for _ in _inotify_watches())
        with sysctl(MAX_USER_WATCHES, in_use):
            (tmp_path / "new").mkdir()
            assert events.wait(lambda: bool(events.errors)), events.summary()
        assert "inotify watch limit reached" in str(events.errors[0])
        write(tmp_path / "still", "works")
        events.wait_key("still")
        assert watcher.stats.errors >= 1

    def test_overflow_after_directory_renames(self, tmp_path: Path, make_watcher) -> None:
        for name in ("a", "b", "c"):
            (tmp_path / name / "in").mkdir(parents=True)
            write(tmp_path / name / "in" / "f", name)
        with sysctl(MAX_QUEUED_EVENTS, 16):
            watcher, events = make_watcher(
                tmp_path, debounce_delay=0, event_buffer=2, max_pending=2
            )
        events.running.clear()
        for i in range(100):
            write(tmp_path / f"n{i}", "x")
        os.rename(tmp_path / "a", tmp_path / "a2")  # renamed while events are lost
        shutil.rmtree(tmp_path / "b")
        os.rename(tmp_path / "c" / "in", tmp_path / "c" / "moved")
        events.running.set()
        assert events.wait(
            lambda: (
                {"a2/in/f", "c/moved/f"} <= events.seen() and {"b/in/f"} <= events.seen("delete")
            ),
            timeout=20,
        ), events.summary()
        assert watcher.stats.overflows >= 1
        write(tmp_path / "a2" / "in" / "g", "later")
        assert events.wait_key("a2/in/g").key == "a2/in/g"


def _inotify_watches() -> list[str]:
    """Every inotify watch of this process, from /proc/self/fdinfo."""
    lines = []
    for fd in os.listdir("/proc/self/fdinfo"):
        try:
            with open(f"/proc/self/fdinfo/{fd}") as f:
                lines += [line for line in f if line.startswith("inotify wd:")]
        except OSError:
            continue
    return lines


@pytest.mark.sysctl
class TestMounts:
    """Unmounting a watched root, or a file system mounted inside the tree."""

    @staticmethod
    def _mount(path: Path) -> None:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], check=True)

    @staticmethod
    def _umount(path: Path) -> None:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)

    @pytest.mark.limitation("portable", reason="watchdog drops inotify's IN_UNMOUNT")
    def test_root_unmounted(self, tmp_path: Path, make_watcher) -> None:
        root = tmp_path / "mnt"
        root.mkdir()
        self._mount(root)
        try:
            write(root / "f", "x")
            _, events = make_watcher(root)
            subprocess.run(["umount", str(root)], check=True)
            assert events.wait(lambda: bool(events.errors)), events.summary()
            assert str(events.errors[0]).startswith(f"watch {root}: watched root")
        finally:
            self._umount(root)

    @pytest.mark.limitation("portable", reason="watchdog drops inotify's IN_UNMOUNT")
    def test_submount_unmounted(self, tmp_path: Path, make_watcher) -> None:
        sub = tmp_path / "sub"
        sub.mkdir()
        self._mount(sub)
        try:
            write(sub / "f", "x")
            _, events = make_watcher(tmp_path)
            subprocess.run(["umount", str(sub)], check=True)
            events.wait_key("sub/f", "delete")
            assert events.errors == []
        finally:
            self._umount(sub)
