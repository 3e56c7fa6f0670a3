"""One Watcher per source, shared by the policies that replicate it (as lsyncd shares its watches).

Two policies with the same source (to two destinations) would each hold one inotify watch per
directory of the tree, and the watches are a per-user budget (`fs.inotify.max_user_watches`).
A `SourceHub` watches the tree once and hands every event to each of its `Tap`s, the watchers
the policies' replicators see; each tap leaves out what its own excludes ignore.

A hub's watcher ignores what its first policy ignores; a policy joins it when it ignores at
least that much and has the same debounce window (else it gets a hub of its own).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Sequence

from fsreplica.config import WatcherConfig
from fsreplica.daemon.control import Policy
from fsreplica.errors import InternalError, WatcherError, WatcherStopped
from fsreplica.events import FileSystemEvent, Operation
from fsreplica.filters import IgnoreRules, ignore_patterns
from fsreplica.watch import Watcher
from fsreplica.watch.stats import WatcherStats

_END = object()


class Tap(Watcher):
    """A policy's view of a shared watcher: the surface a `Replicator` uses.

    It is a `Watcher` for the replicator (which is given a factory of watchers), but watches
    nothing itself: `watch()`, `rewatch()`, `backends` and `stats` are the hub's; `events()` and
    `event_batches()` yield the hub's events that this policy does not ignore; `stop()` leaves
    the hub. It overrides every public member of `Watcher` (a test checks it), so a new way of
    reading a watcher cannot silently read the tap's own, empty one.
    """

    def __init__(self, hub: SourceHub, config: WatcherConfig) -> None:
        super().__init__(config)  # unused: its own channel and backends stay empty
        self.hub = hub
        self._rules = IgnoreRules(config.ignore)
        self._items: collections.deque[object] = collections.deque()
        self._ready = threading.Condition()
        self._left = False

    def watch(self, path: object) -> None:
        """Have the hub watch its source (once, whichever tap asks first)."""
        self.hub.watch()

    def rewatch(self) -> None:
        """Have the hub try the directories it could not watch again."""
        self.hub.watcher.rewatch()

    @property
    def backends(self) -> dict[str, str]:
        """The hub's backend for its source."""
        return self.hub.watcher.backends

    @property
    def stats(self) -> WatcherStats:
        """The hub's counters (its watches serve every tap)."""
        return self.hub.watcher.stats

    def deliver(self, items: list[object]) -> None:
        """Queue events, a watcher error or the end for this tap's reader (the hub's thread)."""
        kept: list[object] = []
        for item in items:
            if not isinstance(item, FileSystemEvent):
                kept.append(item)
            elif (event := self._filtered(item)) is not None:
                kept.append(event)
        if not kept:
            return
        with self._ready:
            if self._left:
                return
            self._items.extend(kept)
            self._ready.notify()

    def _filtered(self, event: FileSystemEvent) -> FileSystemEvent | None:
        rules = self._rules
        if not rules.key(event.key):
            if event.moved_from is not None and rules.key(event.moved_from):
                return FileSystemEvent(event.root, event.key, event.operation, event.time)
            return event
        if event.moved_from is not None and not rules.key(event.moved_from):
            # Renamed to a name this policy ignores: for it, the old name is gone.
            return FileSystemEvent(event.root, event.moved_from, Operation.DELETE, event.time)
        return None

    def event_batches(self) -> Iterator[list[FileSystemEvent]]:
        """Yield this tap's events in lists of those available together (see `Watcher`).

        A watcher error is raised in its place, after the events before it; ends at `stop()`.
        """
        while True:
            with self._ready:
                self._ready.wait_for(lambda: self._items)
                items = self._items
                batch: list[FileSystemEvent] = []
                while items and isinstance(items[0], FileSystemEvent):
                    batch.append(items.popleft())  # type: ignore[arg-type]
                if not batch:
                    if items[0] is _END:
                        return  # left at the head: every later call ends at once too
                    error = items.popleft()
                    assert isinstance(error, WatcherError | InternalError)
                    raise error
            yield batch

    def events(self) -> Iterator[FileSystemEvent]:
        """Yield this tap's events one by one; see `event_batches`."""
        for batch in self.event_batches():
            yield from batch

    async def aevents(self) -> AsyncIterator[FileSystemEvent]:  # pragma: no cover - unused
        """Not for a tap: its replicator reads `event_batches` or `events`."""
        raise NotImplementedError("a tap is read with events() or event_batches()")
        yield  # an async generator

    def stop(self) -> None:
        """Leave the hub (the last tap stops its watcher) and end `events()`; idempotent."""
        with self._ready:
            if self._left:
                return
            self._left = True
            self._items.append(_END)
            self._ready.notify_all()
        self.hub.leave(self)
        super().stop()


class SourceHub:
    """Watches one source for every policy replicating it.

    Args:
        source: The absolute source directory.
        config: The watcher's settings (the first policy's ignore patterns and debounce).
        on_empty: Called (with the hub) once its last tap has left and its watcher stopped.
    """

    _numbers = itertools.count(1)

    def __init__(self, source: str, config: WatcherConfig, *, on_empty: object = None) -> None:
        self.source = source
        self.config = config
        self.watcher = Watcher(config)
        self._taps: list[Tap] = []
        self._lock = threading.Lock()
        self._closed = False
        self._on_empty = on_empty
        self._reader = threading.Thread(
            target=self._read, name=f"fsreplica-hub-{next(self._numbers)}", daemon=True
        )
        self._reader.start()

    def accepts(self, config: WatcherConfig) -> bool:
        """True when a policy with `config` can share this hub's watches."""
        return (
            config.debounce_delay == self.config.debounce_delay
            and set(self.config.ignore) <= set(config.ignore)
            and config.backend == self.config.backend
        )

    def tap(self, config: WatcherConfig) -> Tap:
        """A new tap for a policy with `config` (which this hub `accepts`)."""
        tap = Tap(self, config)
        with self._lock:
            if self._closed:
                raise WatcherStopped("watch", self.source)
            self._taps.append(tap)
        return tap

    @property
    def taps(self) -> int:
        """Policies sharing the hub."""
        with self._lock:
            return len(self._taps)

    def watch(self) -> None:
        """Watch the source (nothing when it is watched already)."""
        self.watcher.watch(self.source)

    def close_if_unused(self) -> None:
        """Stop the watcher if no tap uses the hub (a hub prepared for policies that failed)."""
        with self._lock:
            unused = not self._taps and not self._closed
            if unused:
                self._closed = True
        if unused:
            self._stop()

    def _stop(self) -> None:
        self.watcher.stop()
        if self._reader is not threading.current_thread():
            self._reader.join()
        if callable(self._on_empty):
            self._on_empty(self)

    def leave(self, tap: Tap) -> None:
        """A tap stopped; the last one to leave stops the watcher."""
        with self._lock:
            if tap in self._taps:
                self._taps.remove(tap)
            last = not self._taps and not self._closed
            if last:
                self._closed = True
        if last:
            self._stop()

    def _read(self) -> None:
        batches = self.watcher.event_batches
        while True:
            try:
                for batch in batches():
                    self._fan_out(list(batch))
                break  # stopped
            except (WatcherError, InternalError) as error:
                self._fan_out([error])  # each replicator handles it (a lost root: waits for it)
                if isinstance(error, InternalError):
                    break
        self._fan_out([_END])

    def _fan_out(self, items: list[object]) -> None:
        with self._lock:
            taps = list(self._taps)
        for tap in taps:
            tap.deliver(items)


class HubRegistry:
    """The daemon's hubs, by source; thread-safe."""

    def __init__(self, *, logger: logging.Logger | None = None) -> None:
        self._hubs: dict[str, list[SourceHub]] = {}
        self._lock = threading.Lock()
        self.log = logger or logging.getLogger("fsreplica")

    def prepare(self, source: str, configs: Sequence[WatcherConfig]) -> None:
        """Start a hub for policies of `source` about to start, ignoring what all of them ignore.

        Without it, the first policy to start would set what the hub ignores, and one that
        ignores less would need a watcher of its own. Configs of another debounce window get
        their own hubs.
        """
        groups: dict[tuple[float, str], list[WatcherConfig]] = {}
        for config in configs:
            groups.setdefault((config.debounce_delay, config.backend), []).append(config)
        with self._lock:
            for group in groups.values():
                common = [p for p in group[0].ignore if all(p in c.ignore for c in group[1:])]
                config = dataclasses.replace(group[0], ignore=tuple(common))
                if any(hub.accepts(c) for hub in self._hubs.get(source, []) for c in group):
                    continue
                hub = SourceHub(source, config, on_empty=self._forget)
                self._hubs.setdefault(source, []).append(hub)

    def close(self) -> None:
        """Stop the hubs no policy uses (those in use stop with their last policy)."""
        for hub in self.hubs():
            hub.close_if_unused()

    def factory(self, source: str) -> _Factory:
        """What a replicator of `source` calls for its watcher."""
        return _Factory(self, source)

    def tap(self, source: str, config: WatcherConfig) -> Tap:
        """A tap for a policy of `source` with `config`: of a hub that accepts it, or a new one."""
        with self._lock:
            for hub in self._hubs.get(source, []):
                if hub.accepts(config):
                    try:
                        return hub.tap(config)
                    except WatcherStopped:
                        continue  # its last tap is leaving: a new hub
            hub = SourceHub(source, config, on_empty=self._forget)
            self._hubs.setdefault(source, []).append(hub)
            return hub.tap(config)

    def _forget(self, hub: SourceHub) -> None:
        with self._lock:
            hubs = self._hubs.get(hub.source, [])
            if hub in hubs:
                hubs.remove(hub)
            if not hubs:
                self._hubs.pop(hub.source, None)

    def hubs(self) -> Sequence[SourceHub]:
        """Every hub now."""
        with self._lock:
            return [hub for hubs in self._hubs.values() for hub in hubs]

    @property
    def watches(self) -> int:
        """The inotify watches every hub holds (each once, whatever its taps)."""
        return sum(hub.watcher.stats.watches for hub in self.hubs())


class _Factory:
    """Makes a replicator's watcher: a tap of the hub of its source."""

    def __init__(self, registry: HubRegistry, source: str) -> None:
        self.registry = registry
        self.source = source

    def __call__(self, config: WatcherConfig) -> Watcher:
        return self.registry.tap(self.source, config)


def watcher_config(policy: Policy) -> WatcherConfig:
    """The watcher settings a policy's replicator asks for (see `Replicator.run`)."""
    return WatcherConfig(debounce_delay=policy.debounce, ignore=ignore_patterns(policy.exclude))
