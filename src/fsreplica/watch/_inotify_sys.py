"""The Linux inotify system calls through ctypes, and the layout of an event record.

Only what the watcher needs; the constants are from <sys/inotify.h>.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
import sys

IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_CLOSE_NOWRITE = 0x00000010
IN_OPEN = 0x00000020
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o4000

# Attribute changes (chmod, touch) are deliberately absent: they never carry content.
WATCH_MASK = (
    IN_MODIFY
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
    | IN_MOVE_SELF
    | IN_ONLYDIR
    | IN_EXCL_UNLINK
)

_HEADER = struct.Struct("iIII")
HEADER_SIZE = _HEADER.size

MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"
MAX_USER_INSTANCES = "/proc/sys/fs/inotify/max_user_instances"


class _Libc:
    def __init__(self) -> None:
        if not sys.platform.startswith("linux"):
            raise OSError(errno.ENOSYS, "inotify is only available on Linux")
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self.init1 = libc.inotify_init1
        self.init1.argtypes = [ctypes.c_int]
        self.init1.restype = ctypes.c_int
        self.add_watch = libc.inotify_add_watch
        self.add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self.add_watch.restype = ctypes.c_int
        self.rm_watch = libc.inotify_rm_watch
        self.rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
        self.rm_watch.restype = ctypes.c_int


_libc: _Libc | None = None


def _lib() -> _Libc:
    global _libc
    if _libc is None:
        _libc = _Libc()
    return _libc


def _oserror(filename: str | None = None) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, os.strerror(err), filename)


def inotify_init() -> int:
    """Create a non-blocking, close-on-exec inotify instance and return its fd."""
    fd: int = _lib().init1(IN_CLOEXEC | IN_NONBLOCK)
    if fd < 0:
        raise _oserror()
    return fd


def add_watch(fd: int, path: str, mask: int = WATCH_MASK | IN_DONT_FOLLOW) -> int:
    """Watch the directory `path`; return its watch descriptor (the same one if already watched).

    Raises:
        OSError: ENOSPC when the per-user watch limit is reached, ENOTDIR, ENOENT, EACCES, ...
    """
    wd: int = _lib().add_watch(fd, os.fsencode(path), mask)
    if wd < 0:
        raise _oserror(path)
    return wd


def rm_watch(fd: int, wd: int) -> None:
    """Stop watching `wd`; a watch the kernel already dropped is not an error."""
    _lib().rm_watch(fd, wd)


def read_sysctl(path: str) -> int | None:
    """Return an integer kernel setting, or None when it cannot be read."""
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
