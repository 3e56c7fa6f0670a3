"""Debounce without loss, on real inotify: the final state always arrives."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from .conftest import write


def _content_at_release(events, key: str) -> list[str]:
    return [e.operation.value for e in events.events if e.key == key]


class TestFinalState:
    """The last change of a burst is delivered after the window."""

    def test_seed_timing_example_ends_with_last_content(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path, debounce_delay=0.2)
        seen: list[str] = []
        f = tmp_path / "file.txt"
        start = time.monotonic()
        # The seed's example: writes at 0, 50, 100 and 250 ms with a 200 ms window. The sleeps
        # create the timing under test; they do not stand in for synchronisation.
        for at, content in ((0.0, "v1"), (0.05, "v2"), (0.1, "v3"), (0.25, "v4")):
            time.sleep(max(0.0, start + at - time.monotonic()))
            write(f, content)
        last_write = time.time()
        assert events.wait(lambda: any(e.time >= last_write - 0.005 for e in events.events))
        seen = [Path(e.path).read_text() for e in events.events]
        assert seen[-1] == "v4"
        assert events.events[0].operation == "put"
        assert len(events.events) <= 3

    def test_first_change_is_delivered_at_once(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path, debounce_delay=5.0)
        write(tmp_path / "f", "x")
        # Far shorter than the window: the leading edge does not wait for it.
        events.wait_key("f", timeout=2.0)

    def test_burst_of_overwrites_delivers_the_last(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path, debounce_delay=0.1)
        for i in range(200):
            write(tmp_path / "f", f"version {i}")
        last_write = time.time()
        assert events.wait(lambda: any(e.time >= last_write - 0.005 for e in events.events))
        assert events.events[-1].operation == "put"
        assert len(events.events) < 50

    def test_put_then_delete_in_window_ends_deleted(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "f", "old")
        _, events = make_watcher(tmp_path, debounce_delay=0.2)
        write(tmp_path / "f", "new")
        (tmp_path / "f").unlink()
        assert events.wait(lambda: events.final().get("f") == "delete")
        events.marker(tmp_path)
        assert events.final()["f"] == "delete"

    def test_delete_then_recreate_in_window_ends_put(self, tmp_path: Path, make_watcher) -> None:
        write(tmp_path / "f", "old")
        _, events = make_watcher(tmp_path, debounce_delay=0.2)
        (tmp_path / "f").unlink()
        write(tmp_path / "f", "again")
        assert events.wait(lambda: events.final().get("f") == "put")
        time.sleep(0.3)  # let the window close: nothing may override the final put
        events.marker(tmp_path)
        assert events.final()["f"] == "put"
        assert Path(tmp_path / "f").read_text() == "again"

    def test_debounce_zero_delivers_every_complete_write(
        self, tmp_path: Path, make_watcher
    ) -> None:
        _, events = make_watcher(tmp_path, debounce_delay=0)
        for i in range(5):
            write(tmp_path / "f", str(i))
            events.wait(lambda n=i: len(events.events) > n)
        assert len(events.events) == 5


class TestUnclosedWrites:
    """A file that is written but never closed is delivered once quiet."""

    def test_log_delivered_after_quiet(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path, write_quiet=0.2)
        fd = os.open(tmp_path / "app.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND)
        try:
            for i in range(5):
                os.write(fd, f"line {i}\n".encode())
            event = events.wait_key("app.log", timeout=3)
            assert Path(event.path).read_text().count("line") == 5
        finally:
            os.close(fd)

    @pytest.mark.limitation("polling", reason="polling cannot see whether a file is still open")
    def test_open_file_not_delivered_before_close_or_quiet(
        self, tmp_path: Path, make_watcher
    ) -> None:
        _, events = make_watcher(tmp_path, write_quiet=30)
        with open(tmp_path / "partial", "w") as f:
            f.write("half")
            f.flush()
            events.marker(tmp_path)
            assert "partial" not in events.seen()
            f.write(" and the rest")
        assert Path(events.wait_key("partial").path).read_text() == "half and the rest"
