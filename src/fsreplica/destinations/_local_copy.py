"""Writing a copy's bytes at a local destination: holes kept, writeback started early, one flush.

A file with holes (fewer blocks allocated than its size says) is copied with its holes: only the
ranges that hold data (found with SEEK_DATA / SEEK_HOLE) are written, each at its offset, and
the size is set at the end, so a sparse 10 GiB disk image stays a few blocks at the destination.
The holes are still read (as zeros, from memory) so that the content hash covers every byte.
"""

from __future__ import annotations

import errno
import os
from typing import Any

_SYNC_FILE_RANGE_WRITE = 2
WRITEBACK_STEP = 8 * 1024 * 1024
"""Bytes written to a staged file between two starts of its writeback."""
_sync_file_range: Any = None


def start_writeback(fd: int, offset: int = 0, nbytes: int = 0) -> None:
    """Start writing a range of `fd` to disk without waiting (Linux sync_file_range); a hint.

    Big files are kicked every WRITEBACK_STEP bytes while they are written, so the disk works
    while the rest is read. Small files are kicked together when their batch is flushed: one
    kick each as they are written made a sync of many small files slower (the disk sees many
    small writes instead of merged ones; see benchmarks/README.md). Starting
    writeback also allocates the blocks in the running journal transaction, so the batch's
    first fdatasync commits them all. Errors surface in the fdatasync of `flush`.
    """
    global _sync_file_range
    if _sync_file_range is None:
        try:
            import ctypes  # noqa: PLC0415 - only once something is written

            func = ctypes.CDLL(None, use_errno=True).sync_file_range
            func.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            _sync_file_range = func
        except (OSError, AttributeError):
            _sync_file_range = False
    if _sync_file_range is not False:
        _sync_file_range(fd, offset, nbytes, _SYNC_FILE_RANGE_WRITE)


def flush(fds: list[int]) -> None:
    """Make the data of every file in `fds` durable, with one journal commit for all.

    Writeback of every file is started first, then each is waited for: fdatasync alone, file
    after file, would commit the journal once per file. Unlike syncfs(), this never waits for
    unrelated dirty data on the same filesystem (the source files just written, other
    programs' files).
    """
    if len(fds) > 1:
        for fd in fds:
            start_writeback(fd)
    for fd in fds:
        os.fdatasync(fd)


def data_ranges(fd: int, st: os.stat_result) -> list[tuple[int, int]] | None:
    """The (start, end) byte ranges holding data in a file with holes; None for a dense file.

    None too when the filesystem cannot tell (the file is then copied whole).
    """
    size = st.st_size
    if st.st_blocks * 512 >= size:
        return None
    ranges: list[tuple[int, int]] = []
    offset = 0
    try:
        while offset < size:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            if start >= end:
                break
            ranges.append((start, end))
            offset = end
    except OSError as exc:
        if exc.errno != errno.ENXIO:  # ENXIO: no data after `offset`, the rest is a hole
            return None
    if sum(end - start for start, end in ranges) >= size:
        return None
    return ranges


class SparseWriter:
    """Writes the chunks of a file (in order) to `fd`, skipping what lies in the source's holes.

    Args:
        fd: The destination file, empty.
        ranges: The source's data ranges (see `data_ranges`).
    """

    def __init__(self, fd: int, ranges: list[tuple[int, int]]) -> None:
        self.fd = fd
        self.ranges = ranges
        self._next = 0  # the first range that may still overlap a later chunk

    def write(self, offset: int, view: memoryview) -> None:
        """Write the parts of the chunk at `offset` that overlap a data range.

        Raises:
            OSError: A write failed.
        """
        end = offset + len(view)
        ranges = self.ranges
        i = self._next
        while i < len(ranges) and ranges[i][0] < end:
            start, stop = max(ranges[i][0], offset), min(ranges[i][1], end)
            if start < stop:
                _pwrite_all(self.fd, view[start - offset : stop - offset], start)
            if ranges[i][1] > end:
                break  # continues into the next chunk
            i += 1
        self._next = i

    def finish(self, size: int) -> None:
        """Set the file's size (a trailing hole is never written).

        Raises:
            OSError: The truncate failed.
        """
        os.ftruncate(self.fd, size)


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
