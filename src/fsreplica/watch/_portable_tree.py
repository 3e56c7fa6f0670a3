"""The files the portable backend knows, per directory key, for deletes and directory moves."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from fsreplica.filters import IgnoreRules


class Known:
    """One watched root and the regular files known under it.

    Attributes:
        path: The root's absolute path.
        dirs: Directory key ('/'-separated, "" for the root) -> names of known files in it.
        alive: False once the root was lost.
        watch: watchdog's handle for the scheduled watch.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.dirs: dict[str, set[str]] = {"": set()}
        self.alive = True
        self.watch: Any = None

    def key_of(self, path: str) -> str | None:
        """Return the key of `path` under this root, or None when outside (or the root itself)."""
        if not path.startswith(self.path + os.sep):
            return None
        return path[len(self.path) + 1 :].replace(os.sep, "/")

    def file_path(self, key: str) -> str:
        """Return the absolute path of `key`."""
        return f"{self.path}{os.sep}{key.replace('/', os.sep)}"

    def has(self, key: str) -> bool:
        """Return True if `key` is a known file."""
        dkey, _, name = key.rpartition("/")
        return name in self.dirs.get(dkey, ())

    def has_dir(self, dkey: str) -> bool:
        """Return True if a directory `dkey` is known."""
        return dkey in self.dirs

    def add(self, key: str) -> None:
        """Record the file `key` (and its directory)."""
        dkey, _, name = key.rpartition("/")
        self.dirs.setdefault(dkey, set()).add(name)

    def discard(self, key: str) -> bool:
        """Forget the file `key`; return True if it was known."""
        dkey, _, name = key.rpartition("/")
        files = self.dirs.get(dkey)
        if files is None or name not in files:
            return False
        files.discard(name)
        return True

    def keys(self) -> Iterator[str]:
        """Yield every known file key."""
        for dkey, files in self.dirs.items():
            prefix = f"{dkey}/" if dkey else ""
            for name in files:
                yield prefix + name

    def ctime_ns(self, key: str) -> int:
        """Return the inode change time of `key` on disk (0 when it cannot be read)."""
        try:
            return os.lstat(self.file_path(key)).st_ctime_ns
        except OSError:
            return 0

    def _below(self, dkey: str) -> list[str]:
        below = f"{dkey}/"
        return [d for d in self.dirs if d == dkey or d.startswith(below)]

    def drop_dir(self, dkey: str) -> list[str]:
        """Forget the directory `dkey` and everything below it; return the file keys it held."""
        keys: list[str] = []
        for d in self._below(dkey):
            prefix = f"{d}/" if d else ""
            keys.extend(prefix + name for name in self.dirs.pop(d))
        return keys

    def move_dir(self, src: str, dest: str) -> list[tuple[str, str]]:
        """Re-key the directory `src` as `dest`; return (old key, new key) of every file moved."""
        self.drop_dir(dest)  # a directory renamed over an empty one replaces it
        pairs: list[tuple[str, str]] = []
        for d in self._below(src):
            new_d = dest + d[len(src) :]
            files = self.dirs.pop(d)
            self.dirs[new_d] = set()
            pairs.extend((f"{d}/{name}", f"{new_d}/{name}") for name in files)
        return pairs


def scan(known: Known, dkey: str, rules: IgnoreRules) -> list[str]:
    """List the regular files under directory `dkey`, not following symlinks, honouring ignores.

    Directories found are recorded in `known`, so a directory moved or removed later is known
    even while empty. Returns the file keys found.
    """
    found: list[str] = []
    start = known.file_path(dkey) if dkey else known.path
    stack = [(start, dkey)]
    while stack:
        path, key = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            continue
        known.dirs.setdefault(key, set())
        prefix = f"{key}/" if key else ""
        for entry in entries:
            if rules.child(key, entry.name):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, prefix + entry.name))
                elif entry.is_file(follow_symlinks=False):
                    found.append(prefix + entry.name)
            except OSError:
                continue
    return found
