"""A one-line progress display on a terminal: files, bytes, rate, ETA."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from fsreplica.replicate.apply import SyncReport, _human

REFRESH = 0.25


class Progress:
    """Redraws a status line from a report while work runs; does nothing unless on a TTY.

    Args:
        report: Returns the report the work updates (read, never written).
        total: How many tasks are expected.
        stream: Where to draw; default stderr.
    """

    def __init__(
        self, report: Callable[[], SyncReport], total: int, stream: TextIO | None = None
    ) -> None:
        self.report = report
        self.total = total
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() and total > 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._draw_loop, name="fsreplica-progress")
        self._start = time.monotonic()

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        if self.enabled:
            self._thread.join()
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _draw_loop(self) -> None:
        # A display refresh, not a flag poll: the event only ends it early.
        while not self._done.wait(REFRESH):
            r = self.report()
            done = r.files_copied + r.deleted + r.renamed + r.metadata_updated + len(r.failed)
            elapsed = max(time.monotonic() - self._start, 1e-6)
            rate = r.bytes_copied / elapsed
            per_item = elapsed / done if done else 0.0
            eta = per_item * max(self.total - done, 0)
            self.stream.write(
                f"\r\x1b[K{done}/{self.total} files, {_human(r.bytes_copied)}, "
                f"{_human(rate)}/s, ETA {eta:.0f} s"
            )
            self.stream.flush()
