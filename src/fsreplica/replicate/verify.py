"""Compare a source tree and a destination by content."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fsreplica._names import shown
from fsreplica.destinations import Destination, ObjectInfo, SourceFile, features_of
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.reconcile import walk_source


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the trees differ.

    Attributes:
        key: The key.
        kind: "missing" (only in the source), "extra" (only at the destination), "size",
            "content", "unreadable" or "unverifiable" (the destination cannot tell its content).
        detail: More about it, for people.
    """

    key: str
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({shown(self.detail)})" if self.detail else ""
        return f"{self.kind}: {shown(self.key)}{detail}"


def _sha256_chunks(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _compare(
    root: str, key: str, info: ObjectInfo, read: Callable[[str], Iterator[bytes]] | None
) -> Difference | None:
    try:
        with SourceFile(os.path.join(root, key)) as source:
            src_hash = _sha256_chunks(source.chunks())
            size = source.size
    except OSError as exc:
        return Difference(key, "unreadable", (exc.strerror or str(exc)).lower())
    if size != info.size:
        return Difference(key, "size", f"source {size} bytes, destination {info.size}")
    if read is not None:
        dst_hash = _sha256_chunks(read(key))
    elif info.sha256 is not None:
        dst_hash = info.sha256
    else:
        return Difference(key, "unverifiable", "destination has no content hash")
    if dst_hash != src_hash:
        return Difference(key, "content")
    return None


def verify(
    source: str, destination: Destination, *, rules: IgnoreRules, workers: int = 4
) -> list[Difference]:
    """Return every difference between the source tree and the destination, sorted by key.

    Raises:
        ReconcileError: The source is missing or unreadable.
    """
    tree = walk_source(source, rules)
    listing = {info.key: info for info in destination.list() if not rules.key(info.key)}
    diffs = [Difference(key, "missing") for key in tree.files if key not in listing]
    diffs += [Difference(key, "extra") for key in listing if key not in tree.files]
    diffs += [Difference(key, "unreadable", cause) for key, cause in tree.unreadable]
    both = [key for key in tree.files if key in listing]
    read = features_of(destination).read
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda key: _compare(source, key, listing[key], read), both)
        diffs += [d for d in results if d is not None]
    return sorted(diffs, key=lambda d: (d.key, d.kind))
