"""Keeping a restore inside TARGET_DIR, whatever the keys of the store say.

Three layers, each enough on its own for the case it covers:

- `refusal` refuses a key that does not name a path below the target: empty, absolute, with an
  empty, '.' or '..' component, a NUL byte, a surrogate no file name decodes to, or one of the
  names the restore itself uses (its marker and temporary files).
- `collisions` finds keys that are a file and a "directory" at once (`a` and `a/b`, which a
  store without directories can hold): the file is refused, what lies below it is restored.
- `Target` reaches every directory from an open descriptor of the target, one component at a
  time, with O_NOFOLLOW: a symlink in the target (planted there, or restored by `--links`) is
  never followed, so even a key that passed the checks above cannot lead outside.

The target also holds a marker, `.fsreplica-restore`, while a restore writes into it: locked
(`flock`) by the restore that runs, and left behind by one that did not finish, so that running
the same restore again resumes it without `--force`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterable

from fsreplica._oserrors import cause_of

MARKER = ".fsreplica-restore"
"""The file that marks a restore in progress, or one interrupted, at the top of the target."""
TEMP_PREFIX = ".fsreplica-restore-"
TEMP_SUFFIX = ".tmp"
_TEMP = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}" + re.escape(TEMP_SUFFIX))
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Blocked(Exception):
    """A key cannot be restored because of what is in the target; the message says why."""


def is_temp(name: str) -> bool:
    """True for the name of a restore's temporary file."""
    return _TEMP.fullmatch(name) is not None


def temp_name() -> str:
    """A fresh name for a temporary file (random, so that two workers never meet)."""
    return f"{TEMP_PREFIX}{os.urandom(8).hex()}{TEMP_SUFFIX}"


def refusal(key: str) -> str | None:  # noqa: PLR0911 (one reason per case)
    """Why `key` cannot be restored as a path below the target, or None when it can."""
    if not key:
        return "empty key"
    if "\0" in key:
        return "key holds a NUL byte"
    if key.startswith("/"):
        return "absolute key: would leave the target directory"
    parts = key.split("/")
    if ".." in parts:
        return "key has a '..' component: would leave the target directory"
    if "" in parts or "." in parts:
        return "key has an empty or '.' component"
    if not key.isascii():
        try:
            os.fsencode(key)
        except UnicodeEncodeError:
            return "key is not a file name"
    if parts[0] == MARKER or any(is_temp(part) for part in parts):
        return "key has a name the restore reserves for itself"
    return None


def collisions(keys: Iterable[str]) -> set[str]:
    """The keys that are also a directory of another key (`a` when `a/b` is there too)."""
    files = set(keys)
    found = set()
    for key in files:
        end = key.find("/")
        while end != -1:
            if key[:end] in files:
                found.add(key[:end])
            end = key.find("/", end + 1)
    return found


class Target:
    """The target directory, reached only through descriptors, never through a symlink.

    Args:
        root: The target directory; it must exist.

    Raises:
        OSError: The root cannot be opened.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        # The root itself is the user's choice and may be a symlink; nothing below it is.
        self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def parent(self, key: str, *, create: bool) -> int | None:
        """Open the directory that holds `key`; the caller closes it.

        Args:
            key: A key `refusal` accepted.
            create: Make missing directories (with the umask's mode); without it, None when
                one is missing.

        Raises:
            Blocked: Something that is not a directory (a file, a symlink) is in the way.
            OSError: A directory cannot be opened or made.
        """
        parts = key.split("/")[:-1]
        fd = os.dup(self.fd)
        try:
            for depth, name in enumerate(parts):
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        os.close(fd)
                        return None
                    try:
                        os.mkdir(name, 0o777, dir_fd=fd)
                    except FileExistsError:
                        pass  # another worker made it first
                    child = self._open_dir(name, fd, parts[: depth + 1])
                except OSError as exc:
                    raise _blocked(exc, fd, parts[: depth + 1]) from exc
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open_dir(self, name: str, fd: int, parts: list[str]) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            raise _blocked(exc, fd, parts) from exc

    def close(self) -> None:
        """Close the root's descriptor; idempotent."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _blocked(exc: OSError, dir_fd: int, parts: list[str]) -> OSError | Blocked:
    """The error to raise when directory `parts` could not be opened in `dir_fd`."""
    if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
        return exc
    try:
        link = stat.S_ISLNK(os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        link = False
    what = "a symlink in the target (never followed)" if link else "not a directory in the target"
    return Blocked(f"{'/'.join(parts)} is {what}")


def sweep_temps(root: str) -> int:
    """Remove the temporary files an interrupted restore left under `root`; return how many.

    Only names `temp_name` makes; symlinks to directories are not followed.
    """
    removed = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            if is_temp(name):
                try:
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
                except FileNotFoundError:
                    pass
    return removed


class Marker:
    """The locked marker of a restore in progress (see the module docstring).

    Args:
        target: The open target.
        source: The URL restored from (written into the marker, for people).

    Raises:
        Blocked: Another restore holds the marker.
        OSError: The marker cannot be made.
    """

    def __init__(self, target: Target, source: str) -> None:
        self.target = target
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self.fd = os.open(MARKER, flags, 0o600, dir_fd=target.fd)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self.fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise Blocked("another restore is writing into it") from None
            raise
        os.ftruncate(self.fd, 0)
        os.write(self.fd, os.fsencode(source) + b"\n")

    def finish(self, *, remove: bool) -> None:
        """Let go of the marker; with `remove`, delete it first (the restore is complete)."""
        if self.fd < 0:
            return
        if remove:
            try:
                os.unlink(MARKER, dir_fd=self.target.fd)
            except OSError as exc:  # pragma: no cover - the target itself went away
                raise OSError(exc.errno, cause_of(exc), MARKER) from exc
        os.close(self.fd)
        self.fd = -1


def listing(root: str) -> list[str]:
    """The entries of the target that make it "not empty" (all but a restore's own)."""
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return [name for name in names if name != MARKER and not is_temp(name)]
