"""Reading a source file for an upload: whole when small, hashed ahead when large.

A small file is read whole (at most the store's threshold per worker) and sent in one request.
A large one is read twice: once to hash it, so the digest can travel in the metadata that the
store fixes when the upload starts, then piece by piece into the upload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsreplica.destinations._source import SourceFile

_MIB = 1024 * 1024
# Hashing reads into one reused buffer: a fresh bytes object per read costs more time in page
# faults than the hash itself (see docs/benchmarks.md).
HASH_CHUNK = _MIB


def read_whole(source: SourceFile) -> bytes:
    """Read and hash the whole (small) file; check it did not change meanwhile."""
    body = source.read_all()
    source.check_unchanged()
    return body


def hash_file(source: SourceFile) -> None:
    """Read `source` once to set `source.sha256`; check it did not change."""
    for _ in source.views(bytearray(HASH_CHUNK)):
        pass
    source.check_unchanged()
