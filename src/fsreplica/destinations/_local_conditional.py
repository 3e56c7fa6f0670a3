"""Compare-and-swap of one small file in a local destination (the "conditional" capability).

The tag of a version is the SHA-256 of its content: every version a lease writes differs (it
holds its expiry), and two equal contents are the same version for a caller comparing them.
A writer holds an exclusive `flock` on the file's directory (a descriptor of its own, so
threads of one process exclude each other too) while it compares and renames, so of two daemons
racing from one version exactly one replaces it; readers need no lock, as the new version is
renamed into place whole.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os

from fsreplica.destinations._local_temp import TEMP_PREFIX, TEMP_SUFFIX, create_locked

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
MAX_SIZE = 1024 * 1024
"""Largest content read back (a lease is a few hundred bytes)."""


def tag_of(data: bytes) -> str:
    """The tag of a content."""
    return hashlib.sha256(data).hexdigest()


def read(name: str, dir_fd: int) -> bytes:
    """The content of the regular file `name` in `dir_fd`.

    Raises:
        FileNotFoundError: No regular file of that name.
        OSError: It cannot be read.
    """
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(errno.ENOENT, "not a regular file", name) from exc
        raise
    try:
        return os.read(fd, MAX_SIZE)
    finally:
        os.close(fd)


def replace_if(name: str, dir_fd: int, data: bytes, *, tag: str | None, fsync: bool) -> bool:
    """Replace `name` with `data` if its tag is `tag` (None: if it does not exist).

    Returns:
        False, and nothing written, when another version is there.

    Raises:
        OSError: Reading, writing or locking failed.
    """
    lock = os.open(".", _DIR_FLAGS, dir_fd=dir_fd)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current: str | None = tag_of(read(name, dir_fd))
        except FileNotFoundError:
            current = None
        if current != tag:
            return False
        tmp = f"{TEMP_PREFIX}{os.urandom(6).hex()}{TEMP_SUFFIX}"
        fd = create_locked(tmp, dir_fd)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:
                pass
            raise
        finally:
            os.close(fd)
        if fsync:
            os.fsync(lock)  # the rename itself
        return True
    finally:
        os.close(lock)  # releases the lock
