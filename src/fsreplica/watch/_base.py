"""What every watch backend offers the Watcher, and the hand-off they share."""

from __future__ import annotations

import os
from typing import Protocol

from fsreplica.errors import InternalError, WatcherError
from fsreplica.events import FileSystemEvent
from fsreplica.watch.stats import WatcherStats

Item = FileSystemEvent | WatcherError | InternalError
"""What a backend puts in the channel: an event, or an error raised in the consumer's stream
(an InternalError when the backend's thread stopped on an unexpected exception)."""


class Backend(Protocol):
    """A mechanism that watches roots and feeds debounced events into the Watcher's channel.

    Every backend honours the same semantics: a put for complete regular files only, a delete for
    known files that are gone, the operation decided from the disk at release time, directory moves
    expanded to per-file events, ignored names never watched, a per-path coalesced backlog for a
    slow consumer, and lost roots reported as `WatcherError` items.
    """

    @property
    def stats(self) -> WatcherStats:
        """Counters for this backend's roots."""

    def watch(self, path: str) -> None:
        """Watch `path` recursively; return once watching.

        Raises:
            WatcherError: The path cannot be watched.
            WatcherStopped: The backend was stopped.
        """

    def rewatch(self) -> None:
        """Try again to watch the directories that could not be read (see `Watcher.rewatch`)."""

    def request_stop(self) -> None:
        """Stop watching; return once every pending event is in the channel.

        Raises:
            RuntimeError: Called from the backend's own thread.
        """

    def join(self) -> None:
        """After `request_stop`: release every resource and join every thread."""


def overlapping(path: str, roots: object) -> str | None:
    """Return the root in `roots` that contains or is contained in `path` (not equal), if any."""
    for other in roots:  # type: ignore[attr-defined]
        if path == other:
            continue
        if path.startswith(other.rstrip(os.sep) + os.sep) or other.startswith(
            path.rstrip(os.sep) + os.sep
        ):
            return str(other)
    return None
