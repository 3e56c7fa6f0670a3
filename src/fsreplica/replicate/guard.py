"""The mass-delete guard: when deletions at the destination are refused.

One policy, with one wording, for a reconcile's plan and for the deletes seen live between two
reconciles.
"""

from __future__ import annotations

import os
import threading

SINCE_RECONCILE = " since the last reconcile"


def refusal(
    deletes: int, *, source_empty: bool, dest_count: int, max_delete: int | None, since: str = ""
) -> str | None:
    """Say why `deletes` deletions are refused, or None when they are allowed.

    Args:
        deletes: How many files would be gone from the destination.
        source_empty: The source holds nothing (an unmounted source looks like this).
        dest_count: Files the destination holds before the deletions.
        max_delete: Deletions allowed; None for the default guard (refuse when the source is
            empty or more than half of the destination would go); negative for no limit.
        since: Words saying over what the deletions are counted ("" for one reconcile).
    """
    if max_delete is not None:
        if max_delete < 0 or deletes <= max_delete:
            return None
        return f"would delete {deletes} files{since}, more than --max-delete {max_delete}"
    if source_empty:
        return (
            f"source is empty (unmounted?) while the destination holds {dest_count} files; "
            "pass --max-delete to allow"
        )
    if deletes * 2 > dest_count:
        return (
            f"would delete {deletes} files{since}, more than half of the {dest_count} files "
            "at the destination; pass --max-delete to allow"
        )
    return None


class DeleteGuard:
    """Decides whether deletions at the destination may go ahead; thread-safe.

    A reconcile's plan is judged by `refusal` as a whole. Between two reconciles of real-time
    replication, deletes seen by the watcher count against the same limits (`rm -rf` of the
    source, an unmounted source whose files vanish one by one, must not empty the destination).
    What counts live is how much of the destination would be gone: live deletes less the new
    files put for live changes since the reconcile, so steady churn (files created and deleted,
    the tree's size constant) is never refused.

    Args:
        root: The source directory (checked for emptiness live).
        max_delete: Deletions allowed; None for the default guard; negative for no limit.
    """

    def __init__(self, root: str, *, max_delete: int | None) -> None:
        self.root = root
        self.max_delete = max_delete
        self._lock = threading.Lock()
        self._baseline: int | None = None  # None: deletes are not counted live
        self._deleted = 0
        self._added = 0
        self._refused = False

    def watch(self, dest_count: int) -> None:
        """Count live deletes from now on, for a destination of `dest_count` files."""
        with self._lock:
            self._baseline = dest_count
            self._deleted = 0
            self._added = 0
            self._refused = False

    def moved(self, *, recorded: str | None, device: str) -> str | None:
        """Say why a reconcile's deletions are refused, or None.

        Refused when the source is on another filesystem (`device`) than the one `recorded`
        (unmounted?), unless --max-delete says how many may go.
        """
        if recorded is None or recorded == device or self.max_delete is not None:
            return None
        return (
            "source is on another filesystem than before (unmounted?); pass --max-delete to allow"
        )

    @property
    def watching(self) -> bool:
        """True when live deletes are counted (after the first `watch`)."""
        return self._baseline is not None

    def added(self) -> None:
        """A live change put a new key: the destination grew."""
        with self._lock:
            if self._baseline is not None:
                self._added += 1

    def delete(self) -> str | None:
        """Count one more live delete, or say why it is refused (nothing counted then)."""
        with self._lock:
            baseline = self._baseline
            if baseline is None:
                return None
            gone = self._deleted - self._added + 1  # net, with this one
            reason = refusal(
                gone,
                source_empty=self.max_delete is None and _empty_or_gone(self.root),
                dest_count=baseline,
                max_delete=self.max_delete,
                since=SINCE_RECONCILE,
            )
            if reason is None:
                self._deleted += 1
            return reason

    def first_refusal(self) -> bool:
        """True the first time it is called since `watch` (one log line per removed tree)."""
        with self._lock:
            first = not self._refused
            self._refused = True
            return first


def _empty_or_gone(root: str) -> bool:
    """Return True if the directory `root` is missing or has no entries at all."""
    try:
        with os.scandir(root) as entries:
            return next(entries, None) is None
    except OSError:
        return True
