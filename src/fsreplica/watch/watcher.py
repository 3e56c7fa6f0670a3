"""The public Watcher: chooses a backend per root when asked to watch, and hands out events."""

from __future__ import annotations

import dataclasses
import errno
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from fsreplica.config import WatcherConfig
from fsreplica.errors import InternalError, RootLost, WatcherError, WatcherStopped
from fsreplica.events import FileSystemEvent
from fsreplica.filters import IgnoreRules
from fsreplica.pipeline import CLOSED, Channel
from fsreplica.watch import _budget
from fsreplica.watch._base import Backend, Item, overlapping
from fsreplica.watch._select import choose
from fsreplica.watch.stats import WatcherStats

if TYPE_CHECKING:  # imported when chosen (see _open)
    from fsreplica.watch.polling import PollingBackend


class _SharedChannel(Channel[Item]):
    """The Watcher's channel, fed by one or more backends.

    Each backend registers its own wake-up for "the consumer made room"; all are called. Only the
    Watcher ends the stream: a backend that finishes must not cut off the others.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, eventfd_bell=True)
        self._callbacks: list[Callable[[], None]] = []

    def set_on_space(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)
        super().set_on_space(self._space)

    def _space(self) -> None:
        for callback in list(self._callbacks):
            callback()

    def close(self) -> None:
        """Ignored: backends share the channel; the Watcher calls `end()`."""

    def end(self) -> None:
        """Close the stream for good: consumers get what remains, then the iterators end."""
        super().close()


class Watcher:
    """Watches directory trees and yields debounced put/delete events for regular files.

    Thread-safe: `watch()`, `stop()` and the event iterators may be used from any thread.

    Args:
        config: Settings; default `WatcherConfig()`.

    Example:
        >>> import fsreplica, tempfile, pathlib
        >>> root = tempfile.mkdtemp()
        >>> with fsreplica.Watcher() as watcher:
        ...     watcher.watch(root)
        ...     _ = pathlib.Path(root, "hello.txt").write_text("hi")
        ...     event = next(iter(watcher.events()))
        >>> print(event.operation, event.key)
        put hello.txt
    """

    def __init__(self, config: WatcherConfig | None = None) -> None:
        self.config = config if config is not None else WatcherConfig()
        self._channel = _SharedChannel(self.config.event_buffer)
        self._lock = threading.Lock()
        # One backend of each kind serves every root that chose it; a root whose tree does not fit
        # in the inotify watch budget gets its own pair (see _watch_budgeted).
        self._backends: dict[str, Backend] = {}
        self._polling: PollingBackend | None = None
        self._roots: dict[str, str] = {}
        self._stopped = False
        # Set once the first stop() has finished: a concurrent caller (a `with` block ending
        # while a signal's thread stops the watcher) waits for it rather than returning early.
        self._stop_done = threading.Event()
        self._log = self.config.logger

    def watch(self, path: str | os.PathLike[str]) -> None:
        """Watch `path` and everything below it; return once the watches are in place.

        May be called again for other roots. Watching the same root twice does nothing; a root
        that was lost (a `RootLost` came out of `events()`) can be watched again once it is back.
        The backend is chosen per root (see `WatcherConfig.backend`) and logged. A directory
        below the root that cannot be read (permission denied) does not stop the others: it is
        reported as a `WatcherError` in the stream, and `rewatch()` tries it again.

        Raises:
            WatcherError: `op == "watch"` when the path is missing, not a directory, unreadable,
                overlaps a watched root, or the inotify watch limit is too low.
            WatcherStopped: The watcher was stopped.
        """
        root = os.path.abspath(os.fspath(path))
        with self._lock:
            if self._stopped:
                raise WatcherStopped("watch", root)
            if root in self._roots:
                return
            other = overlapping(root, self._roots)
            if other is not None:
                raise WatcherError("watch", root, f"overlaps the watched root {other}")
            alias = self._alias_of(root)
            if alias is not None:
                raise WatcherError("watch", root, f"same directory as {alias}")
            self._roots[root] = "?"  # reserved while its backend starts
        try:
            name = self._watch(root)
        except BaseException:
            with self._lock:
                self._roots.pop(root, None)
            raise
        with self._lock:
            self._roots[root] = name

    def _alias_of(self, root: str) -> str | None:
        """Return the watched root that is the same directory under another name (a symlink)."""
        try:
            st = os.stat(root)
        except OSError:
            return None  # the backend reports why it cannot watch it
        for other in self._roots:
            try:
                if os.path.samestat(st, os.stat(other)):
                    return other
            except OSError:
                continue
        return None

    def _watch(self, root: str) -> str:
        choice = choose(self.config.backend, root)
        name = choice.backend
        if name == "inotify":
            # Optimistic: counting the tree first would double the time to be ready, and nearly
            # every tree fits. The backend undoes a partial watch when the limit is hit.
            try:
                self._backend(name, root).watch(root)
            except WatcherError as exc:
                cause = exc.__cause__
                if not (isinstance(cause, OSError) and cause.errno == errno.ENOSPC):
                    raise
                if not self._over_budget(root):
                    raise
                return "inotify+polling"
        else:
            self._backend(name, root).watch(root)
        self._log.info("watch %s: %s backend (%s)", root, name, choice.reason)
        return name

    def _over_budget(self, root: str) -> bool:
        """After the watch limit was hit: watch what fits and poll the rest.

        Returns:
            True if the root was watched as a hybrid (inotify above, polling below).

        Raises:
            WatcherError: The tree does not fit and the backend was "inotify" by configuration.
        """
        limit = _budget.read_limit()
        if limit is None:
            return False
        in_use = _budget.watches_in_use()
        free = limit - in_use
        rules = IgnoreRules(self.config.ignore)
        reserve = int(max(free, 0) * _budget.RESERVE)
        plan = _budget.plan(root, rules, max(free - reserve, 1))
        if plan.needed <= free - reserve:
            return False
        if self.config.backend == "inotify" or not plan.polled:
            raise _budget.watch_limit_error(root, needed=plan.needed, limit=limit, in_use=in_use)
        skip = {os.path.relpath(p, root).replace(os.sep, "/") for p in plan.polled}
        self._log.warning(
            "watch %s: %d directories need more inotify watches than are free "
            "(fs.inotify.max_user_watches=%d, %d in use); polling %d subtrees",
            root,
            plan.needed,
            limit,
            in_use,
            len(skip),
        )
        from fsreplica.watch.inotify import InotifyBackend  # noqa: PLC0415

        polling = self._polling_backend(root)
        with self._lock:
            if self._stopped:
                raise WatcherStopped("watch", root)
            try:
                native = InotifyBackend(
                    self.config, self._channel, rules=_budget.SkipRules(self.config.ignore, skip)
                )
            except OSError as exc:
                raise WatcherError("watch", root, exc) from exc
            self._backends[f"inotify:{root}"] = native
        native.watch(root)
        for path in plan.polled:
            polling.watch_subtree(path, root=root)
        return True

    def _polling_backend(self, root: str) -> PollingBackend:
        """The polling backend, which also polls the subtrees that do not fit in the budget."""
        from fsreplica.watch.polling import PollingBackend  # noqa: PLC0415

        with self._lock:
            if self._stopped:
                raise WatcherStopped("watch", root)
            if self._polling is None:
                try:
                    self._polling = PollingBackend(self.config, self._channel)
                except OSError as exc:
                    raise WatcherError("watch", root, exc) from exc
                self._backends["polling"] = self._polling
            return self._polling

    def _backend(self, name: str, root: str) -> Backend:
        if name == "polling":
            return self._polling_backend(root)
        with self._lock:
            if self._stopped:
                raise WatcherStopped("watch", root)
            backend = self._backends.get(name)
            if backend is None:
                backend = self._backends[name] = self._open(name, root)
        return backend

    def _open(self, name: str, root: str) -> Backend:
        # Imported here: a backend's module (and its optional dependency) loads only when chosen.
        try:
            if name == "portable":
                from fsreplica.watch.portable import PortableBackend  # noqa: PLC0415

                return PortableBackend(self.config, self._channel)
            if not sys.platform.startswith("linux"):
                raise WatcherError("watch", root, f"inotify is Linux only, not {sys.platform}")
            from fsreplica.watch.inotify import InotifyBackend  # noqa: PLC0415

            return InotifyBackend(self.config, self._channel)
        except OSError as exc:
            raise WatcherError("watch", root, exc) from exc

    def rewatch(self) -> None:
        """Try again to watch the directories that could not be read (permission denied).

        Those that can now be watched are scanned and their files given as puts; those that
        still cannot are reported in the stream again.
        """
        with self._lock:
            backends = list(self._backends.values())
        for backend in backends:
            backend.rewatch()

    def _forget(self, error: WatcherError | InternalError) -> None:
        """A root was lost: forget it, so that `watch()` can watch it again once it is back."""
        if isinstance(error, RootLost):
            with self._lock:
                self._roots.pop(error.path, None)

    @property
    def backends(self) -> dict[str, str]:
        """The backend watching each root, by root path ("inotify", "polling", "portable")."""
        with self._lock:
            return dict(self._roots)

    def events(self) -> Iterator[FileSystemEvent]:
        """Yield events as they come; blocks; ends once the watcher is stopped.

        A watched root that is deleted or moved away (`RootLost`), or a directory that cannot be
        watched, is raised here as a `WatcherError` in its place in the stream. Other roots keep
        working: call `events()` again to go on reading.

        Raises:
            WatcherError: A root or directory cannot be watched (see above).
            InternalError: A backend's thread stopped on an unexpected exception: the roots it
                watched are no longer watched (stop the watcher; this is a bug to report).
        """
        channel = self._channel
        while True:
            batch = channel.get_batch()
            if not isinstance(batch, list):
                return
            # Taken in one lock round; what the caller does not consume (it breaks out, or an
            # error ends the iteration) goes back to the head of the channel for the next reader.
            items = iter(batch)
            try:
                for item in items:
                    if isinstance(item, WatcherError | InternalError):
                        self._forget(item)
                        raise item
                    yield item
            finally:
                channel.unget(list(items))

    def event_batches(self) -> Iterator[list[FileSystemEvent]]:
        """Yield events as `events()` does, in lists of those that were available together.

        For a consumer with a cost per wake-up (a journal commit): under a steady flow it pays
        it once per list rather than once per event. A list is never empty; an error is raised
        in its place in the stream, after the events before it were yielded.

        Raises:
            WatcherError: A root or directory cannot be watched (see `events()`).
            InternalError: A backend's thread stopped on an unexpected exception.
        """
        channel = self._channel
        while True:
            batch = channel.get_batch()
            if not isinstance(batch, list):
                return
            cut = 0
            for item in batch:
                if isinstance(item, WatcherError | InternalError):
                    break
                cut += 1
            if cut == 0:
                error = batch[0]
                assert isinstance(error, WatcherError | InternalError)
                channel.unget(batch[1:])
                self._forget(error)
                raise error
            # What the caller does not get to (an error, or all when it stops reading) goes
            # back to the head of the channel for the next reader.
            try:
                yield batch[:cut]  # type: ignore[misc]
            finally:
                channel.unget(batch[cut:])

    async def aevents(self) -> AsyncIterator[FileSystemEvent]:
        """Yield events to asyncio code without blocking the event loop; see `events()`."""
        import asyncio  # noqa: PLC0415 - only asyncio users pay for importing it

        loop = asyncio.get_running_loop()
        channel = self._channel
        while True:
            item = channel.get_nowait()
            if item is None:
                await channel.wait_async(loop)
                continue
            if item is CLOSED:
                return
            if isinstance(item, WatcherError | InternalError):
                self._forget(item)
                raise item
            yield item  # type: ignore[misc]

    def stop(self) -> None:
        """Deliver pending events, end the iterators, close every fd and join every thread.

        Idempotent and safe from any thread except the watcher's own; a call made while another
        thread is stopping the watcher returns once that stop is complete.
        """
        with self._lock:
            first = not self._stopped
            self._stopped = True
            backends = list(self._backends.values())
        if not first:
            self._stop_done.wait()
            return
        # Every backend hands over its pending events before releasing its resources, so the
        # iterators end without waiting for the kernel to retire inotify watches.
        stopping: list[Backend] = []
        try:
            for backend in backends:
                backend.request_stop()
                stopping.append(backend)
        finally:
            try:
                self._channel.end()
                for backend in stopping:
                    backend.join()
            finally:
                self._stop_done.set()

    @property
    def stats(self) -> WatcherStats:
        """Counters summed over the backends: roots, watches, events, overflows, errors, backlog."""
        total = WatcherStats()
        for backend in list(self._backends.values()):
            part = backend.stats
            for field in dataclasses.fields(total):
                setattr(total, field.name, getattr(total, field.name) + getattr(part, field.name))
        return total

    def __enter__(self) -> Watcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
