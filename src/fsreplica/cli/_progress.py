"""A one-line progress display on a terminal: files, bytes, rate, ETA."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from fsreplica.replicate.report import SyncReport, human

if TYPE_CHECKING:
    from fsreplica.replicate.march import Plan

REFRESH = 0.25
CLEAR = "\r\x1b[K"  # back to the start of the line, erase it


class Progress:
    """Redraws a status line from a report while work runs; does nothing unless on a TTY.

    Args:
        report: Returns the report the work updates (read, never written).
        total: How many tasks are expected; None when that is known as the work goes (the
            report's `expected`, which counts every outcome, files in place too).
        stream: Where to draw; default stderr.
        settled: Outcomes the report will hold that are not among the `total` tasks (a plan's
            unchanged files and unreadable entries, which the reconcile counts up front).
        clock: Seconds from an arbitrary start, for the rate and the ETA.
        refresh: Seconds between two redraws.
    """

    def __init__(
        self,
        report: Callable[[], SyncReport],
        total: int | None,
        *,
        stream: TextIO | None = None,
        settled: int = 0,
        clock: Callable[[], float] = time.monotonic,
        refresh: float = REFRESH,
    ) -> None:
        self.report = report
        self.total = total
        self.stream = stream or sys.stderr
        self.settled = settled
        self.clock = clock
        self.refresh = refresh
        self.enabled = self.stream.isatty() and (total is None or total > 0)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._draw_loop, name="fsreplica-progress")
        self._start = clock()

    @classmethod
    def for_plan(
        cls,
        report: Callable[[], SyncReport],
        plan: Plan,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh: float = REFRESH,
    ) -> Progress:
        """The progress of carrying out `plan` (its copies, checks and deletions)."""
        return cls(
            report,
            len(plan.tasks) + len(plan.deletes),
            stream=stream,
            settled=plan.unchanged + len(plan.unreadable),
            clock=clock,
            refresh=refresh,
        )

    @classmethod
    def for_sync(
        cls,
        report: Callable[[], SyncReport],
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        refresh: float = REFRESH,
    ) -> Progress:
        """The progress of a sync whose reconcile queues work as it walks: the total grows."""
        return cls(report, None, stream=stream, clock=clock, refresh=refresh)

    def __enter__(self) -> Progress:
        self._start = self.clock()
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        if self.enabled:
            self._thread.join()
            self.stream.write(CLEAR)
            self.stream.flush()

    def done(self) -> int:
        """How many of the expected outcomes are there so far."""
        return self._finished(self.report())

    def _finished(self, r: SyncReport) -> int:
        # A checked or adopted file that needed no copy counts as unchanged: it is done too.
        outcomes = (
            r.files_copied
            + r.deleted
            + r.renamed
            + r.metadata_updated
            + r.unchanged
            + len(r.failed)
        )
        # Changes replayed from the journal are not in `total`: never show more than all done.
        return min(max(outcomes - self.settled, 0), self._total(r))

    def _total(self, r: SyncReport) -> int:
        return r.expected if self.total is None else self.total

    def line(self) -> str:
        """The status line for the report as it is now, without terminal controls."""
        r = self.report()
        done = self._finished(r)
        total = self._total(r)
        elapsed = max(self.clock() - self._start, 1e-6)
        rate = r.bytes_copied / elapsed
        if done:
            eta = f"{elapsed / done * max(total - done, 0):.0f} s"
        else:
            eta = "?"  # no task finished yet: nothing to extrapolate from
        return f"{done}/{total} files, {human(r.bytes_copied)}, {human(rate)}/s, ETA {eta}"

    def draw(self) -> None:
        """Replace the line on the terminal with the current status."""
        self.stream.write(CLEAR + self.line())
        self.stream.flush()

    def _draw_loop(self) -> None:
        # A display refresh, not a flag poll: the event only ends it early.
        while not self._done.wait(self.refresh):
            self.draw()
