"""One directory's entries with their lstat, in one call: in C where `_lsdir` is built.

A reconcile lists every directory of a local destination, and in Python most of that time is
per entry (a DirEntry, a stat_result, their attributes), not the lstat. `entries` gives the
same answer from the C extension (see _lsdir.c) or from os.scandir.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

Entry = tuple[str, int, int, int]
"""(name, st_mode, st_size, st_mtime_ns); a directory has mode S_IFDIR only (no lstat is made
for it); a failed lstat has mode -1 and its errno as the size."""


def entries_python(fd: int) -> list[Entry]:
    """Every entry of the open directory `fd` but . and ..; one removed meanwhile is left out.

    Raises:
        OSError: The directory cannot be read.
    """
    found: list[Entry] = []
    with os.scandir(fd) as listing:
        for entry in listing:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    found.append((name, stat.S_IFDIR, 0, 0))
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                found.append((name, -1, exc.errno or errno.EIO, 0))
                continue
            found.append((name, st.st_mode, st.st_size, st.st_mtime_ns))
    return found


def _native() -> Callable[[int], list[Entry]] | None:
    try:
        from fsreplica.destinations import _lsdir  # noqa: PLC0415 - optional extension
    except ImportError:
        return None
    return _lsdir.entries


entries_native = _native()
"""The C implementation, or None where the extension is not built."""

entries: Callable[[int], list[Entry]] = entries_native or entries_python
