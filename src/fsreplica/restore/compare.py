"""What to do with one object, given what the target already holds there (`--overwrite`)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from enum import StrEnum

from fsreplica.destinations import ObjectInfo
from fsreplica.restore.safety import Blocked

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1024 * 1024


class Overwrite(StrEnum):
    """`--overwrite`: what becomes of a file the target already has."""

    NEVER = "never"
    """Keep it."""
    IF_CHANGED = "if-changed"
    """Replace it when it differs: by content when the store recorded a hash, else by size and
    mtime; a file that differs only in mode or mtime gets the store's."""
    ALWAYS = "always"
    """Replace it."""


class Action(StrEnum):
    """What a restore does with one object."""

    CREATE = "create"
    """Nothing there: fetch it."""
    REPLACE = "replace"
    """Something else there: fetch it and put it in its place."""
    METADATA = "metadata"
    """Same content: give it the store's mode and mtime."""
    UNCHANGED = "unchanged"
    """Already as stored."""
    KEEP = "keep"
    """Something there, kept by `--overwrite never`."""


def file_sha256(dir_fd: int, name: str) -> str:
    """The SHA-256 of the regular file `name` in `dir_fd` (never through a symlink)."""
    fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    try:
        digest = hashlib.sha256()
        while data := os.read(fd, CHUNK):
            digest.update(data)
        return digest.hexdigest()
    finally:
        os.close(fd)


def decide(  # noqa: PLR0911 (one return per outcome)
    info: ObjectInfo,
    there: os.stat_result | None,
    *,
    overwrite: Overwrite,
    sha256: Callable[[], str],
    link_text: Callable[[], str],
    default_mode: int,
) -> Action:
    """Decide what to do with `info` when the target holds `there` (None: nothing) at its path.

    Args:
        info: The object.
        there: `lstat` of the entry at its path in the target.
        overwrite: The policy.
        sha256: Hashes the file there (called only when the comparison needs it).
        link_text: Reads the symlink there (likewise).
        default_mode: The mode a file gets when the store recorded none.

    Raises:
        Blocked: A directory is in the way.
    """
    if there is None:
        return Action.CREATE
    if stat.S_ISDIR(there.st_mode):
        raise Blocked("a directory is in the way in the target")
    if overwrite is Overwrite.NEVER:
        return Action.KEEP
    if overwrite is Overwrite.ALWAYS:
        return Action.REPLACE
    if info.link is not None:
        same = stat.S_ISLNK(there.st_mode) and link_text() == info.link
        return Action.UNCHANGED if same else Action.REPLACE
    if not stat.S_ISREG(there.st_mode) or there.st_size != info.size:
        return Action.REPLACE
    if info.sha256 is not None:
        if sha256() != info.sha256:
            return Action.REPLACE
    elif there.st_mtime_ns != info.mtime_ns:
        return Action.REPLACE
    mode = default_mode if info.mode is None else info.mode
    if there.st_mtime_ns != info.mtime_ns or stat.S_IMODE(there.st_mode) != mode:
        return Action.METADATA
    return Action.UNCHANGED
