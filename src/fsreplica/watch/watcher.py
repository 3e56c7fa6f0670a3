"""The public Watcher: chooses a backend when first asked to watch, and hands out its events."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from fsreplica.config import WatcherConfig
from fsreplica.errors import WatcherError, WatcherStopped
from fsreplica.events import FileSystemEvent
from fsreplica.pipeline import CLOSED, Channel
from fsreplica.watch.stats import WatcherStats

if TYPE_CHECKING:
    from fsreplica.watch.inotify import InotifyBackend


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
        self._channel: Channel[FileSystemEvent | WatcherError] = Channel(self.config.event_buffer)
        self._lock = threading.Lock()
        self._backend: InotifyBackend | None = None
        self._stopped = False

    def watch(self, path: str | os.PathLike[str]) -> None:
        """Watch `path` and everything below it; return once the watches are in place.

        May be called again for other roots. Watching the same root twice does nothing.

        Raises:
            WatcherError: `op == "watch"` when the path is missing, not a directory, unreadable,
                overlaps a watched root, or the inotify watch limit is too low.
            WatcherStopped: The watcher was stopped.
        """
        root = os.path.abspath(os.fspath(path))
        with self._lock:
            if self._stopped:
                raise WatcherStopped("watch", root)
            backend = self._backend
            if backend is None:
                backend = self._backend = self._open_backend(root)
        backend.watch(root)

    def _open_backend(self, root: str) -> InotifyBackend:
        if not sys.platform.startswith("linux"):
            raise WatcherError("watch", root, f"no watch backend for {sys.platform} yet")
        from fsreplica.watch.inotify import InotifyBackend  # noqa: PLC0415 - chosen at run time

        try:
            return InotifyBackend(self.config, self._channel)
        except OSError as exc:
            raise WatcherError("watch", root, exc) from exc

    def events(self) -> Iterator[FileSystemEvent]:
        """Yield events as they come; blocks; ends once the watcher is stopped.

        A watched root that is deleted or moved away, or a directory that cannot be watched, is
        raised here as a `WatcherError` in its place in the stream. Other roots keep working:
        call `events()` again to go on reading.
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
                    if isinstance(item, WatcherError):
                        raise item
                    yield item
            finally:
                channel.unget(list(items))

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
            if isinstance(item, WatcherError):
                raise item
            yield item  # type: ignore[misc]

    def stop(self) -> None:
        """Deliver pending events, end the iterators, close every fd and join the thread.

        Idempotent and safe from any thread except the watcher's own.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            backend = self._backend
        if backend is not None:
            backend.stop()
        self._channel.close()

    @property
    def stats(self) -> WatcherStats:
        """Counters: roots, kernel events read, overflows, rescan changes, errors, backlog."""
        backend = self._backend
        return backend.stats if backend is not None else WatcherStats()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
