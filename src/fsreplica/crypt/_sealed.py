"""Sealing a source file into a copy that an inner destination reads like a source.

The inner destination's `put` takes a `SourceFile`: it reads it (by chunks, views, a whole read,
or `pread` on its descriptor), stores `sha256` as metadata and checks `check_unchanged` before
publishing. `SealedSource` is that, over the sealed bytes: the plaintext is read once, in 1 MiB
blocks, hashed and sealed 64 KiB at a time into memory (small files; a memfd is made only for a
destination that reads through a descriptor) or an unlinked temporary file (large ones, so
memory stays bounded whatever the size), and the inner destination then reads the sealed copy.
Its `stat` is the source's (times, mode, inode: what orders versions) with the sealed size; its
`sha256` is the sealed digest (`_format.seal_digest`), so no plain hash reaches the
destination; `check_unchanged` asks the source.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator

from fsreplica.crypt._format import CHUNK, ContentKeys, Sealer, encrypted_size, seal_digest
from fsreplica.destinations._source import SourceFile
from fsreplica.errors import SourceChangedError

_BLOCK = 16 * CHUNK  # read 1 MiB of plaintext at a time
MEMORY_LIMIT = 16 * 1024 * 1024
"""Sealed copies up to this size are kept in memory; larger ones in an unlinked temporary file."""


def _temporary_file() -> int:
    fd, path = tempfile.mkstemp(prefix="fsreplica-sealed-")  # 0600, in the user's temp dir
    os.unlink(path)
    return fd


def _write_all(fd: int, pieces: list[bytes]) -> None:
    while pieces:
        done = os.writev(fd, pieces)
        while pieces and done >= len(pieces[0]):
            done -= len(pieces[0])
            pieces.pop(0)
        if done:
            pieces[0] = pieces[0][done:]


class SealedSource(SourceFile):
    """The sealed form of `source` for `key`, readable as a `SourceFile`.

    Reading the source sets its `sha256` (the plaintext's, for the replicator's state). Close it
    (or use it as a context manager) once the inner destination is done with it; the source is
    left open.

    Raises:
        SourceChangedError: The source shrank while it was read.
        OSError: Reading the source or writing the sealed copy failed.
    """

    def __init__(self, source: SourceFile, key: str, keys: ContentKeys) -> None:
        self.source = source
        self.path = source.path
        self._fd = -1
        self._data: bytes | None = None
        sealed_size = encrypted_size(source.size)
        if sealed_size <= MEMORY_LIMIT:
            # Held as bytes; a descriptor is made only for a destination that asks for one.
            pieces: list[bytes] = []
            plain_sha256 = _seal(source, key, keys, pieces.extend)
            self._data = b"".join(pieces)
        else:
            fd = _temporary_file()
            try:
                plain_sha256 = _seal(source, key, keys, lambda out: _write_all(fd, out))
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        st = source.stat
        extra = {
            "st_atime_ns": st.st_atime_ns,
            "st_mtime_ns": st.st_mtime_ns,
            "st_ctime_ns": st.st_ctime_ns,
            "st_blocks": -(-sealed_size // 512),  # dense: nothing to look for holes in
            "st_blksize": st.st_blksize,
        }
        visible = (*tuple(st)[:6], sealed_size, *tuple(st)[7:10])
        self.stat = os.stat_result(visible, extra)
        source.sha256 = plain_sha256
        self.sha256: str | None = seal_digest(keys, key, plain_sha256)

    @property
    def fd(self) -> int:
        """A descriptor of the sealed bytes (a memfd made on first use for small ones)."""
        if self._fd < 0 and self._data is not None:
            fd = os.memfd_create("fsreplica-sealed", os.MFD_CLOEXEC)
            try:
                _write_all(fd, [self._data])
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        return self._fd

    @fd.setter
    def fd(self, value: int) -> None:
        self._fd = value

    def chunks(self, size: int = CHUNK * 16) -> Iterator[bytes]:
        """Yield the sealed bytes (`sha256` stays the sealed digest)."""
        if self._data is not None:
            for start in range(0, len(self._data), size):
                yield self._data[start : start + size]
            return
        offset = 0
        while data := os.pread(self._fd, size, offset):
            offset += len(data)
            yield data

    def read_all(self) -> bytes:
        """Read the sealed bytes whole."""
        if self._data is not None:
            return self._data
        return os.pread(self._fd, self.stat.st_size, 0)

    def views(self, buffer: bytearray | memoryview) -> Iterator[memoryview]:
        """Like `chunks`, as views (each valid until the next is asked for)."""
        if self._data is not None:
            whole = memoryview(self._data)
            step = len(buffer)
            for start in range(0, len(whole), step):
                yield whole[start : start + step]
            return
        into = memoryview(buffer)
        offset = 0
        while n := os.preadv(self._fd, [into], offset):
            offset += n
            yield into[:n]

    def check_unchanged(self) -> None:
        """Raise SourceChangedError if the plaintext source changed since it was opened."""
        self.source.check_unchanged()

    def close(self) -> None:
        """Release the sealed copy (the source stays open); idempotent."""
        self._data = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _seal(
    source: SourceFile, key: str, keys: ContentKeys, emit: Callable[[list[bytes]], None]
) -> str:
    """Seal the content of `source`, giving the pieces to `emit`; return its hex SHA-256."""
    sealer = Sealer(keys, key)
    digest = hashlib.sha256()
    size = source.size
    out = [sealer.header]
    if size == 0:
        out.append(sealer.seal(b"", last=True))
    offset = 0
    while offset < size:
        want = min(_BLOCK, size - offset)
        data = os.pread(source.fd, want, offset)
        if len(data) != want:
            raise SourceChangedError(source.path)  # it shrank; check_unchanged would say so too
        digest.update(data)
        view = memoryview(data)
        for start in range(0, want, CHUNK):
            piece = view[start : start + CHUNK]
            out.append(sealer.seal(piece, last=offset + start + len(piece) >= size))
        offset += want
        emit(out)
        out = []
    emit(out)
    return digest.hexdigest()
