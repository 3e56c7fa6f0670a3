"""Putting one object in place under the target: atomically, never through a symlink.

A file is written under a temporary name in its directory (created 0600, O_EXCL, O_NOFOLLOW),
hashed as it is written, checked against the size and SHA-256 the store recorded, given its
mode and mtime, flushed to disk (fsync) and only then renamed to its name: whatever stops the
restore (SIGKILL, a full disk) leaves the old file or the new one under that name, never part
of one, and at most a temporary file that the next run removes. `--verify` re-reads the file
from the disk (its cached pages dropped first) before the rename.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fsreplica.destinations import ObjectInfo
from fsreplica.destinations._base import SupportsFetch, SupportsVersions
from fsreplica.restore.compare import CHUNK, file_sha256
from fsreplica.restore.plan import Item
from fsreplica.restore.safety import temp_name

_CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Mismatch(Exception):
    """What was fetched is not what the store recorded; the message says how."""


@dataclass(frozen=True, slots=True)
class Store:
    """Reads objects (current or versions) from the destination restored from.

    Attributes:
        read: The destination's bound `read`.
        stat: The destination's bound `stat`.
        versions: The destination, for `--at` (None otherwise).
        fetch: The destination, when it reads an object with its metadata (else None).
    """

    read: Callable[[str], Iterator[bytes]]
    stat: Callable[[str], ObjectInfo]
    versions: SupportsVersions | None = None
    fetch: SupportsFetch | None = None

    def info(self, item: Item) -> ObjectInfo:
        """What is stored for `item` (one lookup when the listing did not say)."""
        if item.info is not None:
            return item.info
        if item.version is None:
            return self.stat(item.key)
        assert self.versions is not None
        return self.versions.stat_version(item.key, item.version)

    def fetchable(self, item: Item) -> SupportsFetch | None:
        """The fetch capability when `item` is best read with its metadata, else None."""
        if item.info is None and item.version is None:
            return self.fetch
        return None

    def chunks(self, item: Item) -> Iterator[bytes]:
        """The content of `item`."""
        if item.version is not None:
            assert self.versions is not None
            return self.versions.read_version(item.key, item.version)
        return self.read(item.key)


def write_file(
    dir_fd: int,
    name: str,
    info: ObjectInfo,
    chunks: Iterator[bytes],
    *,
    mode: int,
    verify: bool,
) -> bool:
    """Write `chunks` as the file `name` in `dir_fd`, replacing what is there (see module doc).

    Returns:
        Whether the file was re-read and found as stored (`verify`).

    Raises:
        Mismatch: The content is not what the store recorded (nothing was put in place).
        OSError: The file cannot be written or renamed.
    """
    tmp = temp_name()
    fd = os.open(tmp, _CREATE, 0o600, dir_fd=dir_fd)
    try:
        try:
            digest = hashlib.sha256()
            size = 0
            for chunk in chunks:
                view = memoryview(chunk)
                digest.update(view)
                size += len(view)
                while view:
                    view = view[os.write(fd, view) :]
            got = digest.hexdigest()
            _check(info, size, got)
            os.fchmod(fd, mode)
            os.fsync(fd)
            os.utime(fd, ns=(info.mtime_ns, info.mtime_ns))
            if verify:
                _reread(fd, got)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _unlink(tmp, dir_fd)
        raise
    return verify


def _check(info: ObjectInfo, size: int, sha256: str) -> None:
    if size != info.size:
        raise Mismatch(f"read {size} bytes, the store lists {info.size}")
    if info.sha256 is not None and sha256 != info.sha256:
        raise Mismatch("content does not match the sha256 the store recorded")


def _reread(fd: int, expected: str) -> None:
    """Read the file back from the disk and compare its hash with `expected`."""
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # read the disk, not the page cache
    digest = hashlib.sha256()
    offset = 0
    while data := os.pread(fd, CHUNK, offset):
        digest.update(data)
        offset += len(data)
    if digest.hexdigest() != expected:
        raise Mismatch("read back from the disk, the file differs from what was written")


def write_link(dir_fd: int, name: str, info: ObjectInfo) -> None:
    """Make `name` in `dir_fd` a symlink to `info.link` (its text, never followed), atomically.

    Raises:
        OSError: The link cannot be made.
    """
    assert info.link is not None
    tmp = temp_name()
    os.symlink(info.link, tmp, dir_fd=dir_fd)
    try:
        os.utime(tmp, ns=(info.mtime_ns, info.mtime_ns), dir_fd=dir_fd, follow_symlinks=False)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _unlink(tmp, dir_fd)
        raise


def set_metadata(dir_fd: int, name: str, info: ObjectInfo, *, mode: int) -> None:
    """Give the regular file `name` in `dir_fd` the stored mode and mtime (never a symlink's)."""
    fd = os.open(name, _OPEN, dir_fd=dir_fd)
    try:
        os.fchmod(fd, mode)
        os.utime(fd, ns=(info.mtime_ns, info.mtime_ns))
    finally:
        os.close(fd)


def check_in_place(dir_fd: int, name: str, info: ObjectInfo) -> None:
    """`--verify` of a file found in place: its content against the recorded SHA-256.

    Raises:
        Mismatch: It differs.
    """
    if info.sha256 is not None and file_sha256(dir_fd, name) != info.sha256:
        raise Mismatch("content in the target does not match the sha256 the store recorded")


def _unlink(name: str, dir_fd: int) -> None:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass
