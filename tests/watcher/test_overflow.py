"""Nothing is dropped silently: slow consumers and kernel queue overflow."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fsreplica.watch._overflow import OVERFLOW_SLACK_NS

from .conftest import sysctl, write

MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"


def _disk_state(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


class TestSlowConsumer:
    """A stalled consumer makes the watcher coalesce per path, not drop."""

    def test_stalled_consumer_gets_every_final_state(self, tmp_path: Path, make_watcher) -> None:
        for i in range(500):
            write(tmp_path / f"old{i}", "x")
        watcher, events = make_watcher(tmp_path, debounce_delay=0, event_buffer=100)
        events.running.clear()
        # More than the kernel's default 16,384 queued events while nobody reads.
        for i in range(6000):
            write(tmp_path / f"f{i}", str(i))
        for i in range(0, 6000, 3):
            write(tmp_path / f"f{i}", "rewritten")
        for i in range(500):
            (tmp_path / f"old{i}").unlink()
        events.running.set()
        on_disk = _disk_state(tmp_path)
        assert events.wait(
            lambda: (
                {k for k, op in events.final().items() if op == "put"} == on_disk
                and len(events.seen("delete")) == 500
            ),
            timeout=20,
        ), events.summary()
        assert watcher.stats.backlog <= 6000


@pytest.mark.sysctl
@pytest.mark.backends("inotify")
class TestKernelOverflow:
    """When the kernel queue overflows, a rescan emits what changed."""

    def test_overflow_rescan_recovers_everything(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "keep").mkdir()
        for i in range(300):
            write(tmp_path / "keep" / f"k{i}", "before")
        (tmp_path / "gone").mkdir()
        for i in range(50):
            write(tmp_path / "gone" / f"g{i}", "before")
        with sysctl(MAX_QUEUED_EVENTS, 64):
            # A tiny pending limit makes the reader stop at once, so the kernel queue overflows.
            watcher, events = make_watcher(
                tmp_path, debounce_delay=0, event_buffer=4, max_pending=8
            )
        events.running.clear()
        for i in range(2000):
            write(tmp_path / f"new{i}", "x")
        for i in range(0, 300, 2):
            write(tmp_path / "keep" / f"k{i}", "changed")
        for i in range(50):
            (tmp_path / "gone" / f"g{i}").unlink()
        (tmp_path / "gone").rmdir()
        for i in range(1, 300, 50):
            (tmp_path / "keep" / f"k{i}").unlink()
        (tmp_path / "fresh" / "deep").mkdir(parents=True)
        write(tmp_path / "fresh" / "deep" / "f", "x")
        events.running.set()
        on_disk = _disk_state(tmp_path)
        expected_puts = {k for k in on_disk if not k.startswith("keep/")} | {
            f"keep/k{i}" for i in range(0, 300, 2)
        }
        expected_deletes = {f"gone/g{i}" for i in range(50)} | {
            f"keep/k{i}" for i in range(1, 300, 50)
        }
        assert events.wait(
            lambda: expected_puts <= events.seen() and expected_deletes <= events.seen("delete"),
            timeout=20,
        ), events.summary()
        assert watcher.stats.overflows >= 1
        final = events.final()
        assert all(final[k] == "put" for k in expected_puts)
        assert all(final[k] == "delete" for k in expected_deletes)
        # The watcher still works normally afterwards, new directories included.
        write(tmp_path / "fresh" / "deep" / "after", "x")
        events.wait_key("fresh/deep/after")
        assert os.path.exists(tmp_path / "fresh" / "deep" / "after")

    def test_edits_of_known_files_lost_while_stalled_are_found(
        self, tmp_path: Path, make_watcher
    ) -> None:
        """Appends and same-size rewrites of existing files, lost while the consumer stalls."""
        files = [tmp_path / f"f{i:03d}" for i in range(300)]
        for path in files:
            write(path, f"a-{path.name}")
        with sysctl(MAX_QUEUED_EVENTS, 64):
            # A tiny pending limit makes the reader stop at once, so the kernel queue overflows.
            watcher, events = make_watcher(
                tmp_path, debounce_delay=0, event_buffer=4, max_pending=8
            )
        events.read_content = True
        events.running.clear()
        for i, path in enumerate(files):
            if i % 2:
                with open(path, "a") as f:
                    f.write(" appended")
            else:
                write(path, f"b-{path.name}")  # the same size, other bytes
        # The stall outlasts the rescan's margin for the kernel's clock, as a consumer that is
        # stopped (SIGSTOP) or busy for a few seconds does: what it can tell apart is time.
        time.sleep(OVERFLOW_SLACK_NS / 1e9 + 0.5)
        events.running.set()
        expected = {path.name: path.read_bytes() for path in files}

        def stale() -> list[str]:
            return sorted(k for k, data in expected.items() if events.contents.get(k) != data)

        assert events.wait(lambda: not stale(), timeout=20), (
            f"{len(stale())} files stale, e.g. {stale()[:5]}; {events.summary()}"
        )
        assert watcher.stats.overflows >= 1
