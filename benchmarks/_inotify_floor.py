"""The floor: a plain Python inotify loop that does nothing but read and parse.

It is what any inotify watcher written in Python pays at least (one `read` per wake-up and a
`struct` unpack per event); fsreplica's watcher does more per event and must still cost less.
The sustained-writer benchmark also uses it to see files arrive at DEST (their `IN_MOVED_TO`
or `IN_CLOSE_WRITE`), so that measuring never polls the tree.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import time
from collections.abc import Callable, Iterator

IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_MODIFY = 0x002
IN_ISDIR = 0x40000000
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MODIFY
_HEADER = struct.Struct("iIII")

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


class NaiveInotify:
    """Recursive inotify: watch a tree, read and parse events; new directories are watched.

    Args:
        root: The directory to watch, with every directory under it.
        on_path: Called with (path, event mask, monotonic time of the read) for each file event.
    """

    def __init__(self, root: str, on_path: Callable[[bytes, int, float], None]) -> None:
        self.fd = _libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.dirs: dict[int, bytes] = {}
        self.on_path = on_path
        self.events = 0
        self.overflows = 0
        self.root = os.fsencode(root)
        self.add_tree(self.root)

    def add_tree(self, top: bytes, *, report: bool = False) -> None:
        """Watch `top` and every directory under it, each before it is listed.

        Args:
            top: The directory.
            report: Report the files found (a new directory: its files may have come before
                its watch), as `IN_MOVED_TO` events.
        """
        wd = _libc.inotify_add_watch(self.fd, top, MASK)
        if wd < 0:
            return
        self.dirs[wd] = top
        try:
            entries = list(os.scandir(top))
        except OSError:
            return
        now = time.monotonic()
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                self.add_tree(entry.path, report=report)
            elif report:
                self.on_path(entry.path, IN_MOVED_TO, now)

    def rescan(self) -> None:
        """After an overflow: watch every directory again and report every file as moved in."""
        self.add_tree(self.root, report=True)

    def read(self, timeout: float | None) -> bool:
        """Wait up to `timeout` seconds for events and handle them; False when none came."""
        if not select.select([self.fd], [], [], timeout)[0]:
            return False
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return False
        now = time.monotonic()
        offset, end = 0, len(data)
        dirs, unpack = self.dirs, _HEADER.unpack_from
        while offset < end:
            wd, mask, _cookie, length = unpack(data, offset)
            name = data[offset + 16 : offset + 16 + length].rstrip(b"\0")
            offset += 16 + length
            self.events += 1
            if mask & IN_Q_OVERFLOW:
                self.overflows += 1
                continue
            parent = dirs.get(wd)
            if parent is None:
                continue
            path = parent + b"/" + name
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO):
                    self.add_tree(path, report=True)
                continue
            self.on_path(path, mask, now)
        return True

    def loop(self, until: Callable[[], bool], timeout: float = 0.05) -> Iterator[None]:
        """Read until `until()` is true; yields after each wake-up."""
        while not until():
            self.read(timeout)
            yield None

    def close(self) -> None:
        os.close(self.fd)
