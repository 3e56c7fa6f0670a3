"""The portable backend: watchdog's native observer (FSEvents, ReadDirectoryChangesW, kqueue).

On Linux watchdog uses inotify, which is how CI tests this backend. watchdog's threads only append
events to a queue; one owner thread translates them into the same notions as the native backend
(a file written is dirty, closed or renamed into place it is complete, removed it is gone) and feeds
the Debouncer, keeps the known files per directory, expands directory moves itself (watchdog's
synthetic per-file events are ignored) and scans new directories. When watchdog reports a kernel
queue overflow (a log record), the owner rescans and emits what changed.

Platforms without close events (macOS, Windows, BSD) treat every create or modify as complete; the
debounce window then delivers the final state of a file written in several steps.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

from fsreplica.config import WatcherConfig
from fsreplica.errors import InternalError, RootLost, WatcherError
from fsreplica.events import Operation
from fsreplica.filters import IgnoreRules
from fsreplica.pipeline import Channel, Debouncer, Release
from fsreplica.watch._base import Item, overlapping
from fsreplica.watch._output import Output
from fsreplica.watch._overflow import changed_since
from fsreplica.watch._owner import Owner
from fsreplica.watch._portable_tree import Known, scan
from fsreplica.watch.stats import WatcherStats

try:
    from watchdog.events import FileSystemEvent as _WdEvent
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer
except ImportError as _exc:  # pragma: no cover - the extra is installed for the tests
    _IMPORT_ERROR: ImportError | None = _exc
    FileSystemEventHandler = object  # type: ignore[misc,assignment]
else:
    _IMPORT_ERROR = None

HAS_CLOSE_EVENTS = sys.platform.startswith("linux")
"""Only watchdog's inotify emitter reports opens and closes; elsewhere a write is final."""
_FRESH_WAIT = 0.05  # seconds a created file waits for its open before it counts as moved in
_WATCHDOG_LOGGERS = ("watchdog.observers.inotify", "watchdog.observers.inotify_c")
# watchdog 7.1's inotify emitter re-adds the watch of a directory it already watches when a tree
# is created quickly (mkdir -p): it walks the new tree, then handles the IN_CREATE of each
# subdirectory again, and warns from its own thread for each repeat. The repeat is harmless (the
# same callback replaces itself), but the warning is noise for users and, where warnings are
# errors, an exception that kills watchdog's thread. Only these two messages are silenced.
_WATCHDOG_CALLBACK_WARNING = r"Callback with id '.*' (already exists|does not exist) for watch"

FileKey = tuple[Known, str]


class _OverflowSpy(logging.Handler):
    """watchdog logs a kernel queue overflow and carries on; that log line is our signal."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self._on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self._on_overflow()


class PortableBackend:
    """Watches directory trees through watchdog and feeds debounced events into a channel.

    Args:
        config: The watcher settings.
        channel: Where events (and asynchronous errors) go.

    Raises:
        WatcherError: watchdog is not installed.
    """

    def __init__(self, config: WatcherConfig, channel: Channel[Item]) -> None:
        if _IMPORT_ERROR is not None:
            raise WatcherError(
                "watch",
                "-",
                "the portable backend needs watchdog: install fsreplica[portable]",
            ) from _IMPORT_ERROR
        self._log = config.logger
        self._rules = IgnoreRules(config.ignore)
        self._deb: Debouncer[FileKey] = Debouncer(
            delay=config.debounce_delay, quiet=config.write_quiet
        )
        self._roots: dict[str, Known] = {}
        self._fresh: dict[FileKey, float] = {}  # created files waiting for their open
        self.stats = WatcherStats()
        self._out = Output(channel, self.stats, self._log)
        self._owner = Owner(
            "fsreplica-portable", loop=self._loop, shutdown=self._shutdown, report=self._crashed
        )
        self._cond = self._owner.cond  # also guards the inbox and the overflow flag
        self._inbox: deque[tuple[Known, _WdEvent]] = deque()
        self._overflowed = False
        self._drained_ns = time.time_ns()
        warnings.filterwarnings(
            "ignore",
            message=_WATCHDOG_CALLBACK_WARNING,
            category=RuntimeWarning,
            module=r"watchdog\.observers\.",
        )
        self._observer = Observer()
        self._observer.name = "fsreplica-watchdog"
        self._observer.daemon = True
        self._spy = _OverflowSpy(self._overflow_seen)
        for name in _WATCHDOG_LOGGERS:
            logging.getLogger(name).addHandler(self._spy)
        self._observer.start()
        channel.set_on_space(self._owner.wake)
        self._owner.start()

    # ----------------------------------------------------------------- other threads

    def watch(self, path: str) -> None:
        """Watch `path` recursively; return once watchdog watches it and its files are known."""
        self._call(lambda: self._add_root(path), path)

    def rewatch(self) -> None:
        """Nothing to do: watchdog watches every directory it can read as it appears."""

    def request_stop(self) -> None:
        """Stop watchdog; return once every pending event is in the channel (threads ended)."""
        self._owner.check_caller()
        # watchdog first: what it has queued reaches the owner thread before that finishes.
        try:
            self._observer.stop()
            if self._observer.is_alive():
                self._observer.join()
        finally:
            for name in _WATCHDOG_LOGGERS:
                logging.getLogger(name).removeHandler(self._spy)
            self._owner.request_stop()
            self._owner.join()

    def join(self) -> None:
        """Wait for the owner thread to end (it has, once `request_stop` returned)."""
        self._owner.join()

    def stop(self) -> None:
        """Stop watchdog, deliver what is pending, join every thread."""
        self.request_stop()

    def _call(self, fn: Callable[[], Any], path: str) -> Any:
        return self._owner.call(fn, path)

    def _overflow_seen(self) -> None:
        with self._cond:
            self._overflowed = True
            self._cond.notify()

    def _receive(self, known: Known, event: _WdEvent) -> None:
        """Called in watchdog's thread: hand the event to the owner thread."""
        with self._cond:
            self._inbox.append((known, event))
            self._cond.notify()

    # ----------------------------------------------------------------- owner thread

    def _crashed(self, error: InternalError) -> None:
        self._out.report(error, log=False)

    def _next_deadline(self) -> float | None:
        deadline = self._deb.next_deadline()
        if self._fresh:
            first = min(self._fresh.values())
            deadline = first if deadline is None else min(deadline, first)
        return deadline

    def _loop(self) -> None:
        mail = self._owner
        cond = mail.cond
        while True:
            with cond:
                while not (mail.pending() or self._inbox or self._overflowed):
                    deadline = self._next_deadline()
                    if deadline is None:
                        cond.wait()
                        continue
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        break
                    cond.wait(wait)
                stopping = mail.stopping
                commands = mail.take()
                inbox = list(self._inbox)
                self._inbox.clear()
                overflowed, self._overflowed = self._overflowed, False
            for known, event in inbox:
                if known.alive:
                    self._translate(known, event)
            if not inbox:
                self._drained_ns = time.time_ns()
            mail.run(commands)
            if overflowed:
                self._rescan()
            self._settle_fresh(time.monotonic(), flush_all=stopping)
            for rel in self._deb.pop_due(time.monotonic()):
                self._release(rel)
            self._out.flush()
            if stopping:
                return

    def _shutdown(self) -> None:
        self._out.hand_over(self._deb, self._release)
        self._roots.clear()

    # ----------------------------------------------------------------- roots

    def _add_root(self, path: str) -> None:
        if path in self._roots:
            return
        other = overlapping(path, self._roots)
        if other is not None:
            raise WatcherError("watch", path, f"overlaps the watched root {other}")
        try:
            st = os.stat(path)
            if not stat.S_ISDIR(st.st_mode):
                raise WatcherError("watch", path, "not a directory")
            os.scandir(path).close()
        except OSError as exc:
            raise WatcherError("watch", path, exc) from exc
        known = Known(path)
        handler = _Handler(self, known)
        try:
            known.watch = self._observer.schedule(handler, path, recursive=True)
        except OSError as exc:
            raise WatcherError("watch", path, exc) from exc
        for emitter in self._observer.emitters:
            emitter.name = "fsreplica-watchdog-emitter"
        self._roots[path] = known
        # Scanned after the watch is in place, so a file is either listed here or evented later.
        for key in scan(known, "", self._rules):
            known.add(key)
        self.stats.roots = len(self._roots)
        self._count_watches()

    def _lose_root(self, known: Known, reason: str) -> None:
        known.alive = False
        self._roots.pop(known.path, None)
        if known.watch is not None:
            try:
                self._observer.unschedule(known.watch)
            except (KeyError, OSError):  # watchdog already dropped it
                pass
        self.stats.roots = len(self._roots)
        self._count_watches()
        self._out.report(RootLost("watch", known.path, reason), log=False)

    # ----------------------------------------------------------------- translation

    def _translate(self, known: Known, event: _WdEvent) -> None:
        if event.is_synthetic:
            return  # watchdog's expansion of a directory move; done here from the known tree
        kind = event.event_type
        src = known.key_of(os.fsdecode(event.src_path))
        if src is None:
            if kind == "deleted" and event.is_directory:
                self._lose_root(known, "watched root was deleted")
            return
        if kind == "moved":
            dest = known.key_of(os.fsdecode(event.dest_path))
            self._moved(known, src, dest, is_dir=event.is_directory)
            return
        if self._ignored(src):
            return
        now, wall = time.monotonic(), time.time()
        if event.is_directory:
            if kind == "created":
                self._scan_new(known, src, now, wall)
            elif kind == "deleted":
                self._drop(known, src, wall)
                self._count_watches()
            return
        key = (known, src)
        deb = self._deb
        if kind == "created":
            if HAS_CLOSE_EVENTS:
                deb.dirty(key, now=now, wall=wall)
                self._fresh[key] = now + _FRESH_WAIT
            else:
                self._complete(key, now, wall)
        elif kind == "opened":
            self._fresh.pop(key, None)
        elif kind == "modified":
            if HAS_CLOSE_EVENTS:
                self._fresh.pop(key, None)
                deb.dirty(key, now=now, wall=wall)
            else:
                self._complete(key, now, wall)
        elif kind == "closed":
            # A close without a write before it is a touch or an idle open: nothing changed.
            if deb.is_dirty(key):
                self._complete(key, now, wall)
        elif kind == "deleted":
            self._fresh.pop(key, None)
            self._complete(key, now, wall)

    def _ignored(self, key: str) -> bool:
        """Return True if `key` is ignored, or lies below a directory a path pattern ignores.

        watchdog watches every directory, so events arrive from inside ignored directories too.
        """
        rules = self._rules
        if rules.key(key):
            return True
        if not rules.has_key_patterns:
            return False
        parts = key.split("/")
        return any(rules.key("/".join(parts[:i])) for i in range(1, len(parts)))

    def _count_watches(self) -> None:
        self.stats.watches = sum(len(k.dirs) for k in self._roots.values())

    def _settle_fresh(self, now: float, *, flush_all: bool) -> None:
        """Created files that were never opened were renamed or linked in: complete now."""
        if not self._fresh:
            return
        wall = time.time()
        for key, deadline in list(self._fresh.items()):
            if flush_all or deadline <= now:
                del self._fresh[key]
                if key[0].alive:
                    self._complete(key, now, wall)

    def _moved(self, known: Known, src: str, dest: str | None, *, is_dir: bool) -> None:
        now, wall = time.monotonic(), time.time()
        src_ok = not self._ignored(src)
        dest_ok = dest is not None and not self._ignored(dest)
        if is_dir:
            if src_ok and dest_ok and dest is not None and known.has_dir(src):
                for old, new in known.move_dir(src, dest):
                    self._deb.discard((known, old))
                    self._complete((known, new), now, wall, moved_from=old)
                    self._out.emit(known.path, old, Operation.DELETE, wall)
                self._scan_new(known, dest, now, wall)
                return
            if src_ok:
                self._drop(known, src, wall)
                self._count_watches()
            if dest_ok and dest is not None:
                self._scan_new(known, dest, now, wall)
            return
        if dest_ok and dest is not None:
            self._fresh.pop((known, dest), None)
            moved_from = src if src_ok and known.has(src) else None
            self._complete((known, dest), now, wall, moved_from=moved_from)
        if src_ok:
            self._complete((known, src), now, wall)

    def _scan_new(self, known: Known, dkey: str, now: float, wall: float) -> None:
        for key in scan(known, dkey, self._rules):
            if not known.has(key):
                self._complete((known, key), now, wall)
        self._count_watches()

    def _drop(self, known: Known, dkey: str, wall: float) -> None:
        for key in known.drop_dir(dkey):
            self._deb.discard((known, key))
            self._out.emit(known.path, key, Operation.DELETE, wall)

    def _rescan(self) -> None:
        """Watchdog lost events: compare the disk with what we knew and emit the changes."""
        self.stats.overflows += 1
        watermark = self._drained_ns
        now, wall = time.monotonic(), time.time()
        self._log.warning("watchdog reported lost events; rescanning")
        for known in list(self._roots.values()):
            if not os.path.isdir(known.path):
                self._lose_root(known, "watched root is gone")
                continue
            on_disk = set(scan(known, "", self._rules))
            for key in list(known.keys()):
                if key not in on_disk:
                    self.stats.rescan_changes += 1
                    self._complete((known, key), now, wall)
            for key in on_disk:
                if not known.has(key) or changed_since(known.ctime_ns(key), watermark):
                    self.stats.rescan_changes += 1
                    self._complete((known, key), now, wall)

    # ----------------------------------------------------------------- output

    def _complete(
        self, key: FileKey, now: float, wall: float, moved_from: str | None = None
    ) -> None:
        rel = self._deb.complete(key, now=now, wall=wall, moved_from=moved_from)
        if rel is not None:
            self._release(rel)

    def _release(self, rel: Release[FileKey]) -> None:
        known, key = rel.key
        if not known.alive:
            return
        try:
            is_file = stat.S_ISREG(os.lstat(known.file_path(key)).st_mode)
        except OSError:
            is_file = False
        if is_file:
            known.add(key)
            moved_from = rel.moved_from
            self._out.emit(
                known.path,
                key,
                Operation.PUT,
                rel.time,
                moved_from if isinstance(moved_from, str) else None,
            )
        elif known.discard(key):
            self._out.emit(known.path, key, Operation.DELETE, rel.time)


class _Handler(FileSystemEventHandler):
    """What watchdog calls, in its own thread, for every event under one root."""

    def __init__(self, backend: PortableBackend, known: Known) -> None:
        super().__init__()
        self._backend = backend
        self._known = known

    def dispatch(self, event: _WdEvent) -> None:
        self._backend._receive(self._known, event)
