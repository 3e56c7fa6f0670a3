"""Counters a watcher keeps, readable from any thread."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class WatcherStats:
    """What a watcher has seen so far.

    Attributes:
        roots: Roots being watched.
        watches: Directories being watched (one kernel watch each).
        events_read: Raw kernel events read.
        overflows: Times the kernel queue overflowed (each followed by a rescan).
        rescan_changes: Changes found by rescans.
        errors: Errors reported to the consumer.
        backlog: Events released but waiting for the consumer to make room.
        paced_reads: Reads made at a tick under a steady trickle of changes, rather than at
            each event (inotify; see `WatcherConfig.debounce_delay`).
    """

    roots: int = 0
    watches: int = 0
    events_read: int = 0
    overflows: int = 0
    rescan_changes: int = 0
    errors: int = 0
    backlog: int = 0
    paced_reads: int = 0
