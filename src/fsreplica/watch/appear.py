"""Wait for a directory to appear (a watched root that was removed, then recreated).

Its nearest existing ancestor is watched with inotify for names created or moved in, and the path
is checked again after each such event: nothing wakes up on a timer. When the ancestor itself
goes, or a deeper level of the path appears, the watch moves to the new nearest ancestor. Linux
only (inotify).
"""

from __future__ import annotations

import errno
import os
import select

from fsreplica.errors import WatcherError
from fsreplica.watch import _inotify_sys as sys_

# Something appeared in the ancestor (IN_CREATE, IN_MOVED_TO), or the ancestor left its place.
_MASK = (
    sys_.IN_CREATE
    | sys_.IN_MOVED_TO
    | sys_.IN_DELETE_SELF
    | sys_.IN_MOVE_SELF
    | sys_.IN_ONLYDIR
    | sys_.IN_DONT_FOLLOW
)


class DirectoryWait:
    """Block until a directory exists at `path`, or until `cancel()`.

    Args:
        path: An absolute path.

    Raises:
        WatcherError: inotify is not available.

    Example:
        >>> import tempfile, threading, os
        >>> path = os.path.join(tempfile.mkdtemp(), "later")
        >>> with DirectoryWait(path) as waiting:
        ...     threading.Timer(0.05, os.mkdir, [path]).start()
        ...     waiting.wait()
        True
    """

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        try:
            self._fd = sys_.inotify_init()
        except OSError as exc:
            raise WatcherError("watch", self.path, exc) from exc
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._cancelled = False

    def wait(self) -> bool:
        """Return True once `path` is a directory, False if cancelled first.

        Raises:
            WatcherError: No ancestor of the path can be watched (permission denied).
        """
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake, select.POLLIN)
        while not self._cancelled:
            ancestor = _nearest_existing(self.path)
            if ancestor == self.path and os.path.isdir(self.path):
                return True
            try:
                wd = sys_.add_watch(self._fd, ancestor, _MASK)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    continue  # the ancestor went in the meantime: look again
                raise WatcherError("watch", ancestor, exc) from exc
            try:
                # Watching before looking again: a change made in between is either seen now
                # or queued as an event.
                if _nearest_existing(self.path) == ancestor:
                    poller.poll()
                    self._drain()
            finally:
                sys_.rm_watch(self._fd, wd)
        return False

    def _drain(self) -> None:
        while True:
            try:
                if not os.read(self._fd, 64 * 1024):
                    return
            except BlockingIOError:
                return

    def cancel(self) -> None:
        """Make `wait()` return False; any thread, idempotent."""
        self._cancelled = True
        try:
            os.eventfd_write(self._wake, 1)
        except OSError:  # closed
            pass

    def close(self) -> None:
        """Release the descriptors; idempotent. Call after `wait()` has returned."""
        if self._fd >= 0:
            os.close(self._fd)
            os.close(self._wake)
            self._fd = -1

    def __enter__(self) -> DirectoryWait:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _nearest_existing(path: str) -> str:
    """Return `path` if it is a directory, else its nearest ancestor that is one."""
    while not os.path.isdir(path):
        parent = os.path.dirname(path)
        if parent == path:
            return path
        path = parent
    return path
