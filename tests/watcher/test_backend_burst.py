"""A burst of new directories and files on every backend: nothing lost (issue 5's target)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import write

FILES = 10_000
DIRS = 100
BURST_WAIT = 25.0  # seconds: watchdog handles every event in Python, so leave it room


@pytest.mark.slow
class TestBurst:
    """Every file of a fast burst into directories made during it arrives as a put."""

    def test_ten_thousand_files_in_new_directories(self, tmp_path: Path, make_watcher) -> None:
        watcher, events = make_watcher(tmp_path, debounce_delay=0)
        expected = set()
        per_dir = FILES // DIRS
        for d in range(DIRS):
            # makedirs then writes at once: the files race the watch on their new directories
            directory = tmp_path / f"d{d}" / "sub"
            os.makedirs(directory)
            for f in range(per_dir):
                write(directory / f"f{f}", "x")
                expected.add(f"d{d}/sub/f{f}")
        lost = lambda: expected - events.seen()  # noqa: E731 - read twice below
        assert events.wait(lambda: not lost(), BURST_WAIT), f"{len(lost())} lost"
        assert watcher.stats.errors == 0
