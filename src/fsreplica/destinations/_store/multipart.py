"""Putting one large file through obstore: a streamed multipart upload (S3) or block list (Azure).

Small files are read whole and sent in one PUT (`_store.body`). Large files are hashed first (the
digest travels in the metadata that S3 fixes when a multipart upload starts, and Azure when the
block list is committed), then sent part by part into obstore's writer, which keeps at most
`concurrency` parts in flight: `write` blocks while they are all in flight, so memory stays near
`(concurrency + 2) * part_size` whatever the file size and the server's speed (figures in
docs/benchmarks.md). Any failure, a changed source included, aborts the multipart upload.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import obstore

from fsreplica.errors import SourceChangedError

if TYPE_CHECKING:
    from obstore.store import ObjectStore

    from fsreplica.destinations._source import SourceFile

MAX_PARTS = 10_000  # S3's limit on parts per upload (Azure's on blocks is 50,000)
_MIB = 1024 * 1024


def part_size_for(size: int, part_size: int) -> int:
    """The part size to use for a file of `size` bytes: `part_size`, grown to stay in 10k parts."""
    needed = -(-size // (MAX_PARTS - 1))
    return max(part_size, -(-needed // _MIB) * _MIB)


def upload_multipart(
    store: ObjectStore,
    key: str,
    source: SourceFile,
    *,
    attributes: dict[str, str],
    part_size: int,
    concurrency: int,
) -> int:
    """Stream `source` to `key` as a multipart upload; return the number of bytes sent.

    Raises:
        SourceChangedError: The source changed; the upload was aborted.
        Exception: obstore's error for a failed request; the upload was aborted (best effort).
    """
    size = part_size_for(source.size, part_size)
    sent = 0
    try:
        # On an exception inside the block the writer aborts the multipart upload.
        with obstore.open_writer(
            store, key, attributes=attributes, buffer_size=size, max_concurrency=concurrency
        ) as writer:
            while data := os.pread(source.fd, size, sent):
                writer.write(data)
                sent += len(data)
            source.check_unchanged()
    except Exception as exc:
        # When the abort itself fails (server gone), the writer's error replaces ours: report
        # the change of source if that is what started it.
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, SourceChangedError):
                raise cause from None
            cause = cause.__context__
        raise
    return sent
