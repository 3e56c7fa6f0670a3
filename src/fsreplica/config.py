"""Watcher settings and their defaults."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from fsreplica.filters import DEFAULT_IGNORE

DEFAULT_DEBOUNCE_DELAY = 0.1
"""Seconds: changes of one path inside this window are coalesced into one."""
DEFAULT_EVENT_BUFFER = 100
"""Events the consumer may have waiting before the watcher coalesces per path."""
DEFAULT_WRITE_QUIET = 1.0
"""Seconds a file written but not closed (a log) must stay unchanged before it is delivered."""
DEFAULT_MAX_PENDING = 262_144
"""Distinct paths held for a slow consumer before the watcher stops reading the kernel queue."""
DEFAULT_POLL_INTERVAL = 2.0
"""Seconds between two snapshots of a polled tree."""
BACKENDS = ("auto", "inotify", "portable", "polling")
"""The watch mechanisms a WatcherConfig may name; see docs/platforms.md."""


def _default_logger() -> logging.Logger:
    return logging.getLogger("fsreplica")


@dataclass(frozen=True, kw_only=True)
class WatcherConfig:
    """How a Watcher behaves.

    Attributes:
        debounce_delay: Seconds; the first change of a path is delivered at once, later changes
            inside the window are coalesced and the final state is delivered when it closes.
            Under a steady flow of at least 80 changes a second, the inotify backend reads and
            delivers in batches, one every 40 ms to one window (at most 100 ms; a window under
            40 ms never batches): each change then waits up to that long, and costs a fraction
            of the CPU it costs read at once.
        event_buffer: How many events may wait for the consumer; beyond it the watcher coalesces
            per path (memory grows with distinct paths, not events).
        logger: Where the watcher logs; default `logging.getLogger("fsreplica")`.
        ignore: Glob patterns matched against every path component (or the whole key when the
            pattern contains '/'); default: `DEFAULT_IGNORE`.
        write_quiet: Seconds after the last write of a file that is never closed (a log) before
            it is delivered anyway.
        max_pending: Distinct paths held for a slow consumer; past it the watcher stops reading
            and lets the kernel queue overflow, then rescans (nothing is lost either way).
        backend: Which mechanism watches: "inotify" (native Linux), "portable" (watchdog:
            FSEvents, ReadDirectoryChangesW, kqueue), "polling", or "auto" (the default: inotify
            on local Linux file systems, polling on network mounts, portable elsewhere).
        poll_interval: Seconds between two snapshots of a polled tree.
    """

    debounce_delay: float = DEFAULT_DEBOUNCE_DELAY
    event_buffer: int = DEFAULT_EVENT_BUFFER
    logger: logging.Logger = field(default_factory=_default_logger)
    ignore: Sequence[str] = DEFAULT_IGNORE
    write_quiet: float = DEFAULT_WRITE_QUIET
    max_pending: int = DEFAULT_MAX_PENDING
    backend: str = "auto"
    poll_interval: float = DEFAULT_POLL_INTERVAL

    def __post_init__(self) -> None:
        if self.debounce_delay < 0:
            raise ValueError(f"debounce_delay must be >= 0, got {self.debounce_delay}")
        if self.event_buffer < 1:
            raise ValueError(f"event_buffer must be >= 1, got {self.event_buffer}")
        if self.write_quiet <= 0:
            raise ValueError(f"write_quiet must be > 0, got {self.write_quiet}")
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {self.max_pending}")
        if isinstance(self.ignore, str):
            raise TypeError("ignore must be a sequence of patterns, not a single string")
        if self.backend not in BACKENDS:
            choices = ", ".join(repr(b) for b in BACKENDS)
            raise ValueError(f"unknown backend {self.backend!r} (choose one of {choices})")
        if self.poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0, got {self.poll_interval}")
