"""Temporary files of a local destination: created locked, removed only when provably abandoned.

A put writes a temporary file beside its target and renames it into place. A process killed in
between leaves the temporary file behind, so a sweep removes leftovers; but other processes (a
`verify`, a second `sync`, another replicator) and this process's own workers may be writing
temporary files in the same directories at the same moment, and removing one of those would
lose a copy in flight. The writer therefore holds an exclusive `flock` on its temporary file
from just after creating it until it is renamed or discarded (the lock lives with the open file
and dies with the process, whatever kills it), and a sweep removes a temporary file only when
it can take that lock itself AND the file has been idle (by its ctime, which every write and
metadata change moves and nobody can set back) for `TEMP_GRACE` seconds. The grace covers the
one moment a live temporary file is unlocked: between its creation and the writer's `flock`.
A writer stopped in exactly that moment for longer than the grace loses its file, and its
publish fails with ENOENT, which is retried (see `LocalDestination._publish`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time

TEMP_PREFIX = ".fsreplica-"
TEMP_SUFFIX = ".part"
TEMP_GRACE = 600.0
"""Seconds a lockable temporary file must have been idle before a sweep removes it."""

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL})
_PROBE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def is_temp(name: str) -> bool:
    """True for a name a local destination gives its temporary files."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def create_locked(name: str, dir_fd: int) -> int:
    """Create the temporary file `name` (0600, never existing before) and lock it; return its fd.

    The lock is taken blocking: a sweep that holds it at this moment is only looking (the file
    is new, far from idle for the grace period) and lets go at once.

    Raises:
        OSError: The file cannot be created.
    """
    fd = os.open(name, _CREATE_FLAGS, 0o600, dir_fd=dir_fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if exc.errno not in _NO_LOCKS:
            os.close(fd)
            raise
        # A filesystem without flock: the sweep cannot take the lock either, so it never
        # removes anything there (safe; leftovers stay hidden until removed by hand).
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_if_abandoned(name: str, dir_fd: int, *, grace: float = TEMP_GRACE) -> bool:
    """Remove the temporary file `name` if no one holds it and it was idle for `grace` seconds.

    A temporary symlink (written by `put_link`, which holds no lock) is judged by its age alone.

    Returns:
        True if it was removed.
    """
    try:
        fd = os.open(name, _PROBE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        return exc.errno == errno.ELOOP and _remove_old_link(name, dir_fd, grace)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while a writer holds it
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or time.time() - st.st_ctime < grace:
            return False
        now = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if (now.st_ino, now.st_dev) != (st.st_ino, st.st_dev):
            return False  # replaced since it was opened: judge it at the next sweep
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _remove_old_link(name: str, dir_fd: int, grace: float) -> bool:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode) or time.time() - st.st_ctime < grace:
            return False
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        return False
    return True
