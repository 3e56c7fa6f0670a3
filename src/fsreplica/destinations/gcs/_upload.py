"""Putting one large file: a resumable upload streamed from the source, chunk by chunk.

The file is hashed first (`_store.body.hash_file`): its SHA-256 travels in the metadata, which
GCS fixes when the upload session starts. Then the client reads it `chunk_size` bytes at a time
through `SourceReader` and sends each chunk in a request of its own, so memory stays near twice
the chunk size whatever the file size. The last chunk finalises the object: the reader checks
the source did not change before it hands that chunk over, so a changed file never becomes an
object. An abandoned session (a changed source, a failure, a kill) is never visible and GCS
drops it after a week; it holds no storage that is billed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fsreplica.destinations._source import SourceFile

CHUNK_ALIGN = 256 * 1024  # GCS wants resumable chunks in multiples of 256 KiB


def chunk_size_for(size: int) -> int:
    """`size` rounded up to a multiple of 256 KiB (at least one)."""
    return max(-(-size // CHUNK_ALIGN), 1) * CHUNK_ALIGN


class SourceReader:
    """A seekable, read-only file object over a `SourceFile`, as the upload client reads one.

    It reads with `pread` (the source's own offset is left alone) and never past the size the
    source had when it was opened; the read that reaches the end first checks the source is
    unchanged (raising `SourceChangedError`).

    Args:
        source: The open source file (already hashed).
    """

    def __init__(self, source: SourceFile) -> None:
        self._source = source
        self._size = source.size
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all that is left when negative) from the current offset."""
        left = self._size - self._offset
        count = left if size < 0 else min(size, left)
        data = os.pread(self._source.fd, count, self._offset) if count > 0 else b""
        self._offset += len(data)
        if self._offset >= self._size:
            self._source.check_unchanged()
        elif len(data) < count:
            self._source.check_unchanged()  # shrank: raises
        return data

    def tell(self) -> int:
        """The current offset."""
        return self._offset

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move to `offset` (from the start, the current offset or the end); return it."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._offset, os.SEEK_END: self._size}[whence]
        self._offset = max(base + offset, 0)
        return self._offset

    def seekable(self) -> bool:
        """Always (a resumed upload seeks back to what the server has)."""
        return True

    def readable(self) -> bool:
        """Always."""
        return True


def upload_resumable(
    blob: Any, source: SourceFile, *, chunk_size: int, generation: int | None, **call: Any
) -> None:
    """Send `source` to `blob` (its metadata set) in a resumable upload of `chunk_size` chunks.

    Args:
        blob: The google-cloud-storage Blob, its `metadata` set.
        source: The hashed source file.
        chunk_size: Bytes per request (a multiple of 256 KiB).
        generation: `if_generation_match` (0: only if absent), or None for no condition.
        **call: `retry` and `timeout` for the client.

    Raises:
        SourceChangedError: The source changed; nothing was published.
        Exception: The client's error for a failed request.
    """
    blob.chunk_size = chunk_size
    blob.upload_from_file(
        SourceReader(source),
        size=source.size,
        rewind=False,
        content_type="application/octet-stream",
        if_generation_match=generation,
        **call,
    )
