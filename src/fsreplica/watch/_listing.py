"""One directory of a polling snapshot: its regular files signed, its subdirectories named.

`list_dir(path, old)` returns `(files, subdirs, fresh)`: `files` maps the name of every regular
file to its signature `(inode, size, mtime_ns)`, reusing the tuple of `old` (the previous poll's
map) when the file did not change, so an unchanged tree allocates nothing that outlives a poll;
`subdirs` names the subdirectories (symlinks are never followed); `fresh` names the files whose
tuple is new (added or changed). A file that vanishes between the listing and its lstat is left
out. OSError is raised when the directory cannot be listed.

The work is per regular file, so it is done in C where the `_scan` extension is built (it is
optional: a machine without a compiler installs without it): the directory is read and each file
lstat'ed relative to the directory fd with the GIL released, and nothing is allocated for an
unchanged file. Elsewhere `os.scandir` does it: names and types without a system call per entry,
one `DirEntry.stat` per regular file (`fstatat` through the directory fd on POSIX).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

Signature = tuple[int, int, int]
"""(inode, size, mtime_ns) of a regular file."""

Listing = tuple[dict[str, Signature], list[str], list[str]]
"""What `list_dir` returns: (files, subdirs, fresh)."""

_POSIX_FD = sys.platform != "win32" and os.scandir in os.supports_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def list_dir_python(path: str, old: dict[str, Signature]) -> Listing:
    """List `path` with `os.scandir` (the portable implementation); see the module docstring."""
    files: dict[str, Signature] = {}
    subdirs: list[str] = []
    fresh: list[str] = []
    known = old.get
    # Listing through a directory fd makes each entry's lstat relative to it: the kernel
    # resolves one name, not the whole path. DirEntry.stat needs the fd open until it is done.
    fd = os.open(path, _DIR_FLAGS) if _POSIX_FD else -1
    try:
        with os.scandir(fd) if fd >= 0 else os.scandir(path) as it:
            for entry in it:
                try:
                    if not entry.is_file(follow_symlinks=False):
                        if entry.is_dir(follow_symlinks=False):
                            subdirs.append(entry.name)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished since the listing
                name = entry.name
                prev = known(name)
                mtime = st.st_mtime_ns
                if (
                    prev is not None
                    and prev[2] == mtime
                    and prev[1] == st.st_size
                    and prev[0] == st.st_ino
                ):
                    files[name] = prev
                    continue
                files[name] = (st.st_ino, st.st_size, mtime)
                fresh.append(name)
    finally:
        if fd >= 0:
            os.close(fd)
    return files, subdirs, fresh


def _native() -> Callable[[str, dict[str, Signature]], Listing] | None:
    if not _POSIX_FD:
        return None
    try:
        from fsreplica.watch import _scan  # noqa: PLC0415 - optional extension
    except ImportError:
        return None
    scan = _scan.scan

    def list_dir_native(path: str, old: dict[str, Signature]) -> Listing:
        """List `path` with the C extension; see the module docstring."""
        fd = os.open(path, _DIR_FLAGS)
        try:
            return scan(fd, old)
        finally:
            os.close(fd)

    return list_dir_native


list_dir_native = _native()
"""The C implementation, or None where the extension is not built (or not POSIX)."""

list_dir: Callable[[str, dict[str, Signature]], Listing] = list_dir_native or list_dir_python
"""The implementation the polling backend uses: C when built, else `os.scandir`."""
