"""A steady trickle of changes: inotify reads at ticks, and still delivers every change in full.

Under a trickle the owner thread leaves events in the kernel until the next tick
(`watch/_pace.py`); these tests hold it to the watcher's contract meanwhile: every file arrives,
an open file waits for its close, stop() hands over what the kernel still holds, and a change
after the trickle is read at once again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import fsreplica

from .conftest import WAIT, write

RATE = 250.0  # files a second: well above the 80 that start pacing
DEBOUNCE = 0.1  # the default window: ticks of 50 ms


def _trickle(root: Path, count: int, prefix: str = "t") -> set[str]:
    """Write `count` new files at RATE a second (a paced writer, not a wait for the watcher)."""
    start = time.monotonic()
    keys = set()
    for i in range(count):
        delay = start + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        write(root / f"{prefix}{i:04d}", str(i))
        keys.add(f"{prefix}{i:04d}")
    return keys


@pytest.mark.backends("inotify")
class TestPaced:
    def test_every_file_of_a_trickle_arrives_and_reads_were_paced(
        self, tmp_path: Path, make_watcher
    ) -> None:
        watcher, events = make_watcher(tmp_path, debounce_delay=DEBOUNCE)
        keys = _trickle(tmp_path, 150)
        assert events.wait(lambda: keys <= events.seen()), events.summary()
        assert watcher.stats.paced_reads > 0

    def test_an_open_file_waits_for_its_close_while_paced(
        self, tmp_path: Path, make_watcher
    ) -> None:
        watcher, events = make_watcher(tmp_path, debounce_delay=DEBOUNCE, write_quiet=30)
        with open(tmp_path / "open.log", "w") as log:
            log.write("first")
            log.flush()
            keys = _trickle(tmp_path, 100)
            assert events.wait(lambda: keys <= events.seen()), events.summary()
            assert watcher.stats.paced_reads > 0
            assert "open.log" not in events.seen()
            log.write(" second")
        event = events.wait_key("open.log")
        assert Path(event.path).read_text() == "first second"

    def test_stop_delivers_what_the_kernel_holds_for_the_tick(self, tmp_path: Path) -> None:
        watcher = fsreplica.Watcher(
            fsreplica.WatcherConfig(debounce_delay=DEBOUNCE, backend="inotify")
        )
        with watcher:
            watcher.watch(tmp_path)
            keys = _trickle(tmp_path, 100)
            paced = watcher.stats.paced_reads
            watcher.stop()  # at once: the last files are still in the kernel's queue
            seen = {event.key for event in watcher.events()}
        assert paced > 0
        assert keys <= seen, sorted(keys - seen)[:5]

    def test_a_change_after_the_trickle_is_read_at_once(self, tmp_path: Path, make_watcher) -> None:
        watcher, events = make_watcher(tmp_path, debounce_delay=DEBOUNCE)
        keys = _trickle(tmp_path, 100)
        assert events.wait(lambda: keys <= events.seen()), events.summary()
        # A tick that finds (nearly) nothing ends pacing: then no tick comes for a while.
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            ticks = watcher.stats.paced_reads
            time.sleep(0.2)  # four ticks long
            if watcher.stats.paced_reads == ticks:
                break
        paced = watcher.stats.paced_reads
        write(tmp_path / "alone", "x")
        events.wait_key("alone")
        assert watcher.stats.paced_reads == paced
