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
- by status itself only when nobody has read it for `STALE` seconds (a quiet policy), never
  waiting: while a writer holds the lock, what was read last stands.
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
        clock: Monotonic clock (seconds).
    """

    def __init__(self, *, shown: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._shown = shown
        self._clock = clock
        self._lock = threading.Lock()  # one reader at a time; never held by status
        self._read: tuple[float, Summary] = (float("-inf"), _EMPTY)

    def get(self, state: State | None, *, older_than: float = STALE) -> Summary:
        """The summary; read again (never waiting) when older than `older_than` seconds."""
        read_at, summary = self._read
        if state is not None and self._clock() - read_at >= older_than:
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
