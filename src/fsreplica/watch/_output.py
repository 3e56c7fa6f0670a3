"""The last stage every backend shares: released events to the channel, the rest coalesced.

Owned by the backend's thread. When the consumer is slow, events wait in an ordered map keyed by
(root, key) so a newer state of a path replaces the older one in its place in line: memory grows
with the number of distinct paths, not with the number of events.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fsreplica.errors import InternalError, WatcherError
from fsreplica.events import FileSystemEvent, Operation
from fsreplica.pipeline import Channel, Debouncer, Release
from fsreplica.watch._base import Item
from fsreplica.watch.stats import WatcherStats


class Output:
    """Events and errors on their way to the consumer.

    Args:
        channel: The Watcher's channel.
        stats: The backend's counters (errors and backlog are kept here).
        log: Where errors are logged.
    """

    def __init__(self, channel: Channel[Item], stats: WatcherStats, log: logging.Logger) -> None:
        self._channel = channel
        self._stats = stats
        self._log = log
        self._out: list[Item] = []
        self._backlog: OrderedDict[tuple[str, str], Item] = OrderedDict()

    def __len__(self) -> int:
        return len(self._backlog)

    def emit(
        self, root: str, key: str, op: Operation, wall: float, moved_from: str | None = None
    ) -> None:
        """Queue an event for the consumer."""
        self._out.append(FileSystemEvent(root, key, op, wall, moved_from))

    def report(self, error: WatcherError | InternalError, *, log: bool = True) -> None:
        """Queue an error for the consumer's stream (and log it)."""
        if log:
            self._log.error("%s", error)
        self._stats.errors += 1
        self._out.append(error)

    def flush(self, *, defer: bool = False) -> bool:
        """Hand what fits to the channel; keep the rest coalesced. Return True if any is left.

        With `defer` the caller wakes the sleeping consumers itself (`Channel.take_ring`).
        """
        out = self._out
        backlog = self._backlog
        channel = self._channel
        if out:
            self._out = []
            if not backlog:
                room = channel.room()
                if room >= len(out):
                    channel.push(out, defer=defer)
                    out = []
                elif room > 0:
                    channel.push(out[:room], want_space=True, defer=defer)
                    out = out[room:]
            for item in out:
                if isinstance(item, FileSystemEvent):
                    backlog[(item.root, item.key)] = item
                else:
                    backlog[("", str(id(item)))] = item
        if backlog:
            take = max(min(channel.room(), len(backlog)), 0)
            batch = [backlog.popitem(last=False)[1] for _ in range(take)]
            channel.push(batch, want_space=bool(backlog), defer=defer)
        self._stats.backlog = len(backlog)
        return bool(backlog)

    def push_all(self) -> None:
        """Hand everything over whatever the capacity (when stopping)."""
        items = [*self._backlog.values(), *self._out]
        self._backlog.clear()
        self._out = []
        self._stats.backlog = 0
        if items:
            self._channel.push(items)

    def hand_over(self, deb: Debouncer[Any], release: Callable[[Release[Any]], None]) -> None:
        """When stopping: release what `deb` still holds, then hand everything over."""
        try:
            for rel in deb.drain():
                release(rel)
        except Exception:  # still hand over what we have
            self._log.exception("releasing pending events failed")
        self.push_all()
