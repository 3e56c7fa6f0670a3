"""What a replicator tells an observer: each change it completed, failed or refused.

A daemon turns these into events and metrics. The observer is called in the thread that did the
work (a transfer worker, the reconcile's), so it must be quick and must not raise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

ChangeKind = Literal[
    "put",
    "delete",
    "rename",
    "failed",
    "refused",
    "reconciled",
    "destination-down",
    "destination-up",
    "source-gone",
    "source-back",
]


@dataclass(frozen=True, slots=True)
class Change:
    """One outcome of replication.

    Attributes:
        kind: What happened.
        key: The key concerned ("" for the end of a reconcile).
        time: When the destination was written (Unix time).
        bytes: Bytes written, for a put.
        lag: Seconds from the change on disk (the file's mtime) to the destination write, for
            a put.
        detail: The reason of a failure, refusal or outage, the old key of a rename, the summary
            of a reconcile.
        duration: Seconds the reconcile took to compare both sides and queue its work, for the
            end of a reconcile.
    """

    kind: ChangeKind
    key: str = ""
    time: float = 0.0
    bytes: int | None = None
    lag: float | None = None
    detail: str | None = None
    duration: float | None = None


Observer = Callable[[Change], None]
"""Called with each `Change`; quick, never raises."""


def put_change(key: str, size: int, mtime_ns: int) -> Change:
    """The `Change` of a put done now, of a file last modified at `mtime_ns`."""
    now = time.time()
    return Change("put", key, now, bytes=size, lag=max(0.0, now - mtime_ns / 1e9))
