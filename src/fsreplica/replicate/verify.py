"""Compare a source tree and a destination by content."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fsreplica._names import shown
from fsreplica._oserrors import cause_of
from fsreplica.destinations import Destination, ObjectInfo, SourceFile, features_of
from fsreplica.errors import IntegrityError
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.reconcile import walk_source


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the trees differ.

    Attributes:
        key: The key.
        kind: "missing" (only in the source), "extra" (only at the destination), "size",
            "content", "metadata" (same content, but the mode or mtime differs), "unreadable" or
            "unverifiable" (the destination cannot tell its content).
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


Read = Callable[[str], Iterator[bytes]]
"""A destination's bound `read` (its "read" capability)."""


def dest_sha256(read: Read | None, key: str, info: ObjectInfo) -> str | None:
    """Return the SHA-256 of `key`'s content at a destination.

    Read and hashed where the destination can be read (`read`), else the hash it recorded
    (`info.sha256`, None when it has none).
    """
    if read is not None:
        return _sha256_chunks(read(key))
    return info.sha256


def _drift(source: SourceFile, info: ObjectInfo) -> str:
    """How the destination's recorded mode and mtime differ from the source file's ("" if not)."""
    drift = []
    if info.mode is not None and info.mode != source.mode:
        drift.append(f"mode {source.mode:04o} at the source, {info.mode:04o} at the destination")
    if info.mtime_ns != source.mtime_ns:
        drift.append(
            f"mtime {_when(source.mtime_ns)} at the source, {_when(info.mtime_ns)} at the "
            "destination"
        )
    return "; ".join(drift)


def _when(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{rest:09d}Z"


def _compare(root: str, key: str, info: ObjectInfo, read: Read | None) -> Difference | None:
    try:
        with SourceFile(os.path.join(root, key)) as source:
            src_hash = _sha256_chunks(source.chunks())
            size = source.size
            drift = _drift(source, info)
    except OSError as exc:
        return Difference(key, "unreadable", cause_of(exc))
    if size != info.size:
        return Difference(key, "size", f"source {size} bytes, destination {info.size}")
    try:
        dst_hash = dest_sha256(read, key, info)
    except IntegrityError as exc:  # an encrypted object that does not authenticate
        dst_hash, detail = None, exc.reason
    else:
        detail = ""
    if dst_hash is None and not detail:
        return Difference(key, "unverifiable", "destination has no content hash")
    if dst_hash != src_hash:
        return Difference(key, "content", detail)
    if drift:
        return Difference(key, "metadata", drift)
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
