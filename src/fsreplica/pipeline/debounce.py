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

import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, NamedTuple, TypeVar

K = TypeVar("K", bound=Hashable)

SWEEP_AFTER = 1.0
"""Seconds after its end that a window with nothing to release is forgotten, at the latest.

Such a window needs no wake-up of its own: it is forgotten by the next `pop_due`, whatever
wakes the owner, or by one sweep this long after it ended. A tree changing one file at a time
then costs one wake-up per change instead of two (the change, and its window's end).
"""


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
        # The windows that hold a change to release when they end, the only ones worth a
        # wake-up. A slot becomes ready in any order, so these need a heap; the FIFO above
        # still releases them (in deadline order) and forgets the others.
        self._ready: list[tuple[float, int, _Slot[K]]] = []
        self._seq = itertools.count()

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
            self._hold(slot)
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
        """Return the monotonic time by which `pop_due` must be called next, if ever.

        That is the end of the first window or quiet period with a change to release; when
        there is none, a sweep of the windows that ended with nothing to release (`SWEEP_AFTER`
        after the first of them), so that an idle owner forgets them without waking for each.
        """
        ready = self._ready
        while ready and (not ready[0][2].ready or ready[0][2].window_end != ready[0][0]):
            heapq.heappop(ready)
        quiets = self._quiets
        while quiets and (not quiets[0][1].dirty or quiets[0][1].quiet_at != quiets[0][0]):
            quiets.popleft()
        if ready:
            if quiets:
                return min(ready[0][0], quiets[0][0])
            return ready[0][0]
        if quiets:
            return quiets[0][0]
        windows = self._windows
        while windows and windows[0][1].window_end != windows[0][0]:
            windows.popleft()
        return windows[0][0] + SWEEP_AFTER if windows else None

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
                self._hold(slot)
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
        self._ready.clear()
        return out

    def _hold(self, slot: _Slot[K]) -> None:
        """Keep the slot's change for the end of its open window."""
        if not slot.ready:
            slot.ready = True
            heapq.heappush(self._ready, (slot.window_end, next(self._seq), slot))

    def _open(self, slot: _Slot[K], now: float, moved_from: object) -> Release[K]:
        slot.ready = False
        slot.moved_from = None
        slot.window_end = deadline = now + self._delay
        self._windows.append((deadline, slot))
        return Release(slot.key, slot.time, moved_from)
