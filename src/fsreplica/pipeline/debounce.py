"""Per-path debouncing that never loses the final state.

The first complete change of a path is released at once and opens a window of `delay` seconds;
changes inside the window are coalesced and, when it closes, released once more, so the last write
of a burst always reaches the destination (a throttle that only kept the leading edge would drop
it). The caller decides put or delete from what is on disk at release time.

A change is either *complete* (closed after writing, renamed into place, removed) or *dirty* (data
written, file still open). A dirty path is released when it becomes complete or, for files that
are never closed such as logs, after `quiet` seconds without further writes.

All methods take the current monotonic time, so tests drive the logic with a fake clock. The
object is owned by one thread and has no lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, NamedTuple, TypeVar

K = TypeVar("K", bound=Hashable)


class Release(NamedTuple, Generic[K]):
    """A path whose state must be delivered now."""

    key: K
    time: float
    """Wall-clock time of the latest change, for the event's timestamp."""
    moved_from: object
    """The old key when the change includes a rename inside the tree, else None."""


class _Slot(Generic[K]):
    __slots__ = ("dirty", "key", "moved_from", "quiet_at", "ready", "time", "window_end")

    def __init__(self, key: K) -> None:
        self.key = key
        self.window_end = 0.0
        self.ready = False
        self.dirty = False
        self.quiet_at = 0.0
        self.time = 0.0
        self.moved_from: object = None


class Debouncer(Generic[K]):
    """Coalesces changes per key and says when each key's state must be released.

    Args:
        delay: The debounce window in seconds (0 releases every complete change at once).
        quiet: Seconds a dirty key must stay unchanged before it is released anyway.
    """

    def __init__(self, *, delay: float, quiet: float) -> None:
        self._delay = delay
        self._quiet = quiet
        self._slots: dict[K, _Slot[K]] = {}
        # Every window and every quiet period has the same length, so deadlines are appended in
        # order and a FIFO serves as a priority queue. Stale entries are skipped when popped.
        self._windows: deque[tuple[float, _Slot[K]]] = deque()
        self._quiets: deque[tuple[float, _Slot[K]]] = deque()

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def complete(
        self, key: K, *, now: float, wall: float, moved_from: object = None
    ) -> Release[K] | None:
        """Record a complete change of `key`.

        Returns:
            A Release when the key must be delivered now, or None when it waits for its window.
        """
        slot = self._slots.get(key)
        if slot is None:
            if self._delay <= 0:
                return Release(key, wall, moved_from)
            slot = self._slots[key] = _Slot(key)
        elif moved_from is None:
            moved_from = slot.moved_from
        slot.dirty = False
        slot.time = wall
        if slot.window_end > now:
            slot.ready = True
            slot.moved_from = moved_from
            return None
        return self._open(slot, now, moved_from)

    def dirty(self, key: K, *, now: float, wall: float) -> None:
        """Record that `key` was written and may not be complete yet."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot(key)
        slot.dirty = True
        slot.time = wall
        slot.quiet_at = deadline = now + self._quiet
        self._quiets.append((deadline, slot))

    def is_dirty(self, key: K) -> bool:
        """Return True if `key` was written and has not been completed since."""
        slot = self._slots.get(key)
        return slot is not None and slot.dirty

    def discard(self, key: K) -> None:
        """Forget `key` entirely (its directory is gone)."""
        slot = self._slots.pop(key, None)
        if slot is not None:
            slot.window_end = slot.quiet_at = -1.0

    def next_deadline(self) -> float | None:
        """Return the monotonic time of the next window or quiet period to end, if any."""
        self._prune()
        deadlines = [q[0][0] for q in (self._windows, self._quiets) if q]
        return min(deadlines) if deadlines else None

    def pop_due(self, now: float) -> list[Release[K]]:
        """Release every key whose window or quiet period has ended by `now`."""
        out: list[Release[K]] = []
        quiets = self._quiets
        while quiets and quiets[0][0] <= now:
            deadline, slot = quiets.popleft()
            if slot.quiet_at != deadline or not slot.dirty:
                continue
            slot.dirty = False
            if slot.window_end > now:
                slot.ready = True
            else:
                out.append(self._open(slot, now, slot.moved_from))
        windows = self._windows
        while windows and windows[0][0] <= now:
            deadline, slot = windows.popleft()
            if slot.window_end != deadline:
                continue
            if slot.ready:
                out.append(self._open(slot, now, slot.moved_from))
            elif slot.dirty:
                slot.window_end = 0.0
            else:
                del self._slots[slot.key]
        return out

    def drain(self) -> list[Release[K]]:
        """Release everything still held, dirty or not (used when stopping)."""
        out = [
            Release(slot.key, slot.time, slot.moved_from)
            for slot in self._slots.values()
            if slot.ready or slot.dirty
        ]
        self._slots.clear()
        self._windows.clear()
        self._quiets.clear()
        return out

    def _open(self, slot: _Slot[K], now: float, moved_from: object) -> Release[K]:
        slot.ready = False
        slot.moved_from = None
        slot.window_end = deadline = now + self._delay
        self._windows.append((deadline, slot))
        return Release(slot.key, slot.time, moved_from)

    def _prune(self) -> None:
        for queue, attr in ((self._windows, "window_end"), (self._quiets, "quiet_at")):
            while queue and getattr(queue[0][1], attr) != queue[0][0]:
                queue.popleft()
