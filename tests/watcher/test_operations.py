"""Operation mapping on real inotify: what gives put, what gives delete, what gives nothing."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path

import pytest

import fsreplica

from .conftest import write


class TestPut:
    """Complete regular files give put."""

    def test_write_and_close(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path)
        write(tmp_path / "a.txt", "hello")
        event = events.wait_key("a.txt")
        assert event.operation == fsreplica.Operation.PUT
        assert event.operation == "put"
        assert event.path == str(tmp_path / "a.txt")
        assert event.timestamp.tzinfo is not None
        assert event.moved_from is None

    def test_content_complete_when_delivered(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path, debounce_delay=0)
        data = os.urandom(4 * 1024 * 1024)
        with open(tmp_path / "big.bin", "wb") as f:
            for i in range(0, len(data), 65536):
                f.write(data[i : i + 65536])
                f.flush()
        event = events.wait_key("big.bin")
        assert Path(event.path).read_bytes() == data
        assert [e.key for e in events.events] == ["big.bin"]

    def test_moved_in_from_outside(self, tmp_path: Path, make_watcher) -> None:
        inside, outside = tmp_path / "in", tmp_path / "out"
        inside.mkdir()
        outside.mkdir()
        write(outside / "f", "x")
        _, events = make_watcher(inside)
        os.rename(outside / "f", inside / "f")
        assert events.wait_key("f").moved_from is None

    def test_hard_link_in(self, tmp_path: Path, make_watcher) -> None:
        inside, outside = tmp_path / "in", tmp_path / "out"
        inside.mkdir()
        outside.mkdir()
        write(outside / "f", "x")
        _, events = make_watcher(inside)
        os.link(outside / "f", inside / "linked")
        events.wait_key("linked", timeout=2)

    def test_rename_inside_tree(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path)
        write(tmp_path / "old", "x")
        events.wait_key("old")
        os.rename(tmp_path / "old", tmp_path / "new")
        assert events.wait_key("new").moved_from == "old"
        events.wait_key("old", "delete")

    def test_atomic_save_replaces_target(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "doc", "v1")
        _, events = make_watcher(tmp_path)
        write(tmp_path / ".doc.swp", "v2")
        os.replace(tmp_path / ".doc.swp", tmp_path / "doc")
        events.wait_key("doc")
        events.marker(tmp_path)
        assert events.seen() == {"doc"}
        assert events.seen("delete") == set()


class TestDelete:
    """Removal or rename away gives delete."""

    def test_remove(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "f", "x")
        _, events = make_watcher(tmp_path)
        (tmp_path / "f").unlink()
        events.wait_key("f", "delete")

    def test_moved_out(self, tmp_path: Path, make_watcher) -> None:
        inside = tmp_path / "in"
        inside.mkdir()
        write(inside / "f", "x")
        _, events = make_watcher(inside)
        os.rename(inside / "f", tmp_path / "f")
        events.wait_key("f", "delete")

    def test_unknown_file_created_and_removed_gives_nothing(
        self, tmp_path: Path, make_watcher
    ) -> None:
        _, events = make_watcher(tmp_path)
        fd = os.open(tmp_path / "brief", os.O_CREAT | os.O_WRONLY)
        os.unlink(tmp_path / "brief")
        os.close(fd)
        events.marker(tmp_path)
        assert events.events == []


class TestNothing:
    """Attribute changes, special files and symlinks give no events."""

    @pytest.mark.limitation(
        "polling", reason="polling sees the new mtime of a touch, not whether content changed"
    )
    def test_chmod_and_touch_give_nothing(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "f", "x")
        _, events = make_watcher(tmp_path)
        os.chmod(tmp_path / "f", 0o600)
        os.utime(tmp_path / "f", (1, 1))
        # coreutils touch opens the file for writing and closes it without writing
        fd = os.open(tmp_path / "f", os.O_WRONLY)
        os.close(fd)
        events.marker(tmp_path)
        assert events.events == []

    def test_touch_never_hides_a_later_write(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "f", "x")
        _, events = make_watcher(tmp_path, debounce_delay=0.2)
        os.chmod(tmp_path / "f", 0o600)
        os.utime(tmp_path / "f")
        write(tmp_path / "f", "second")
        event = events.wait_key("f")
        assert Path(event.path).read_text() == "second"

    def test_directories_give_nothing(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path)
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "e").mkdir()
        (tmp_path / "d" / "e").rmdir()
        events.marker(tmp_path)
        assert events.events == []

    def test_fifo_socket_device_give_nothing_and_never_block(
        self, tmp_path: Path, make_watcher
    ) -> None:
        _, events = make_watcher(tmp_path)
        os.mkfifo(tmp_path / "fifo")
        reader = os.open(tmp_path / "fifo", os.O_RDONLY | os.O_NONBLOCK)
        writer = os.open(tmp_path / "fifo", os.O_WRONLY)
        os.write(writer, b"data")
        os.close(writer)  # IN_CLOSE_WRITE on a FIFO
        os.close(reader)
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(tmp_path / "sock"))
        sock.close()
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        events.marker(tmp_path)
        assert events.events == []

    def test_symlinks_not_followed(self, tmp_path: Path, make_watcher) -> None:
        inside, outside = tmp_path / "in", tmp_path / "out"
        inside.mkdir()
        outside.mkdir()
        _, events = make_watcher(inside)
        os.symlink(outside, inside / "dirlink")
        os.symlink(outside / "f", inside / "filelink")
        events.marker(inside)
        write(outside / "f", "x")  # written through neither link, but the target is outside
        write(inside / "dirlink" / "g", "y")
        events.marker(inside)
        assert events.events == []

    def test_file_replaced_by_directory(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "x", "x")
        _, events = make_watcher(tmp_path)
        (tmp_path / "x").unlink()
        (tmp_path / "x").mkdir()
        write(tmp_path / "x" / "f", "y")
        events.wait_key("x/f")
        assert events.final()["x"] == "delete"
        shutil.rmtree(tmp_path / "x")
        events.wait_key("x/f", "delete")
