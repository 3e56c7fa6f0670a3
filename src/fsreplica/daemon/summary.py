"""What a policy's status shows from its state file, read without waiting for a writer.

A status call must answer while the policy's replicator is busy: its state file is written by
its workers, whose transactions hold the state's lock through their commits (and fsyncs), so a
status that read the failures from the file waited for them (seconds, with 20 policies taking a
burst). Each SQLite call also gives the GIL away, and a thread that wants it back waits behind
every busy worker of every policy. So the figures are read as a `Summary`, in one hold of the
lock taken only if it is free, and kept:

- by the replicator's workers as they finish changes (a put, a delete, a failure), at most once
  a second: during a burst they keep it fresh and status reads nothing;
- after each reconcile, in the reconcile's thread (waiting for the lock: it settled failures);
- when a status call finds it older than `STALE` seconds (a quiet policy, or a failure cleared
  by a change no worker tells of): by the daemon's `SummaryReader` thread, never by the status
  call, which answers with what was read last (the next one sees the new figures).

Each read gives up while a writer holds the state's lock (but the reconcile's): what was read
last stands.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable

from fsreplica.replicate.state import State, Summary

FRESH = 1.0
"""Seconds a summary read by a worker is kept before a worker reads it again."""
STALE = 5.0
"""Seconds after which a status call reads the summary itself."""

_EMPTY = Summary(failures=0, failing=(), refused=None, oldest_pending=None)


class StateSummary:
    """The last summary read from one policy's state, and when.

    Args:
        shown: How many failing paths a summary lists.
        reader: Reads a stale summary for `get` (None: `get` reads it itself, never waiting).
        clock: Monotonic clock (seconds).
    """

    def __init__(
        self,
        *,
        shown: int,
        reader: SummaryReader | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shown = shown
        self._reader = reader
        self._clock = clock
        self._lock = threading.Lock()  # one reader at a time; never held by status
        self._read: tuple[float, Summary] = (float("-inf"), _EMPTY)

    def get(self, state: State | None, *, older_than: float = STALE) -> Summary:
        """The summary; read again when older than `older_than` seconds (by the reader)."""
        read_at, summary = self._read
        if state is not None and self._clock() - read_at >= older_than:
            if self._reader is not None:
                self._reader.ask(self, state)
            else:
                summary = self._refresh(state, wait=False) or summary
        return summary

    def refresh(self, state: State, *, wait: bool = False, older_than: float = FRESH) -> None:
        """Read the summary again if it is older than `older_than` seconds (0: now).

        Args:
            state: The policy's state.
            wait: Wait for the state's lock (a reconcile's thread), else give up when it is
                held (a worker that has just finished a change).
            older_than: Seconds a summary is kept.
        """
        if self._clock() - self._read[0] >= older_than:
            self._refresh(state, wait=wait)

    def _refresh(self, state: State, *, wait: bool) -> Summary | None:
        if not self._lock.acquire(blocking=wait):
            return None  # another thread reads it now
        try:
            now = self._clock()
            summary = state.summary(shown=self._shown, wait=wait)
        except TimeoutError:
            return None
        except (sqlite3.Error, ValueError, AttributeError):  # closed: the policy stops
            return None
        else:
            self._read = (now, summary)
            return summary
        finally:
            self._lock.release()


class SummaryReader:
    """The daemon's thread that reads the summaries status calls found stale.

    Started at the first request; it sleeps (no timeout: no wake-up while nobody asks) until
    the next. `close()` stops it.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._asked: dict[int, tuple[StateSummary, State]] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def ask(self, summary: StateSummary, state: State) -> None:
        """Read `summary` again from `state`, soon, in the reader's thread."""
        with self._cond:
            if self._closed:
                return
            self._asked[id(summary)] = (summary, state)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fsreplica-summary", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._asked or self._closed)
                if self._closed:
                    return
                asked = list(self._asked.values())
                self._asked.clear()
            for summary, state in asked:
                summary.refresh(state, older_than=0)

    def close(self) -> None:
        """Stop the thread; idempotent."""
        with self._cond:
            self._closed = True
            self._asked.clear()
            thread = self._thread
            self._cond.notify()
        if thread is not None:
            thread.join()
