"""Sealing a source file into an anonymous file that an inner destination reads like a source.

The inner destination's `put` takes a `SourceFile`: it reads it (by chunks, views, a whole read,
or `pread` on its descriptor), stores `sha256` as metadata and checks `check_unchanged` before
publishing. `SealedSource` is that, over the sealed bytes: the plaintext is read once, in 1 MiB
blocks, hashed and sealed 64 KiB at a time into a memfd (small files) or an unlinked temporary
file (large ones, so memory stays bounded whatever the size), and the inner destination then
reads the sealed copy. Its `stat` is the source's (times, mode, inode: what orders versions)
with the sealed size; its `sha256` is the sealed digest (`_format.seal_digest`), so no plain
hash reaches the destination; `check_unchanged` asks the source.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator

from fsreplica.crypt._format import CHUNK, ContentKeys, Sealer, encrypted_size, seal_digest
from fsreplica.destinations._source import SourceFile
from fsreplica.errors import SourceChangedError

_BLOCK = 16 * CHUNK  # read 1 MiB of plaintext at a time
MEMORY_LIMIT = 16 * 1024 * 1024
"""Sealed copies up to this size are kept in memory (a memfd); larger ones in a temporary file."""


def _anonymous_file(size: int) -> int:
    if size <= MEMORY_LIMIT and hasattr(os, "memfd_create"):
        return os.memfd_create("fsreplica-sealed", os.MFD_CLOEXEC)
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
        size = source.size
        sealed_size = encrypted_size(size)
        fd = _anonymous_file(sealed_size)
        try:
            plain_sha256 = _seal_into(fd, source, key, keys)
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
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        source.sha256 = plain_sha256
        self.sha256: str | None = seal_digest(keys, key, plain_sha256)

    def chunks(self, size: int = CHUNK * 16) -> Iterator[bytes]:
        """Yield the sealed bytes (`sha256` stays the sealed digest)."""
        offset = 0
        while data := os.pread(self.fd, size, offset):
            offset += len(data)
            yield data

    def read_all(self) -> bytes:
        """Read the sealed bytes whole."""
        return os.pread(self.fd, self.stat.st_size, 0)

    def views(self, buffer: bytearray | memoryview) -> Iterator[memoryview]:
        """Like `chunks`, into `buffer` (each view valid until the next is asked for)."""
        whole = memoryview(buffer)
        offset = 0
        while n := os.preadv(self.fd, [whole], offset):
            offset += n
            yield whole[:n]

    def check_unchanged(self) -> None:
        """Raise SourceChangedError if the plaintext source changed since it was opened."""
        self.source.check_unchanged()


def _seal_into(fd: int, source: SourceFile, key: str, keys: ContentKeys) -> str:
    """Seal the content of `source` into `fd`; return the plaintext's hex SHA-256."""
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
        _write_all(fd, out)
        out = []
    _write_all(fd, out)
    return digest.hexdigest()
