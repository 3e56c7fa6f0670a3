"""When the inotify owner reads under a steady trickle of changes: at ticks, not at each event.

A writer changing a file every few milliseconds wakes a watcher that reads at once for every
file: the owner thread for the event (often twice: the create, then the close), and the consumer
for the hand-off. Each wake-up of a Python thread costs tens of microseconds of CPU, several
times what handling the file does. Under such a trickle the owner stops polling the inotify fd
and reads what the kernel queued once per tick, so one wake-up of each thread serves every file
of the tick; the debounce deadlines that fall due are released at the same wake-up.

The tick is at most half the debounce window (a watcher with debounce 0 never paces), and pacing
starts only at a rate no single save or isolated change reaches, so the latency of an isolated
change is unchanged. It stops as soon as a tick finds the rate fallen, or finds the kernel
queue filling faster than a tick can safely leave it (a burst: the burst handling takes over).
"""

from __future__ import annotations

from fsreplica.watch import _inotify_sys as sys_

MAX_TICK = 0.05
"""Seconds between reads while pacing, at most (the default debounce of 0.1 s gives this)."""
MIN_TICK = 0.02
"""A debounce window too short for a tick at least this long disables pacing."""
WINDOW = 0.1
"""Seconds over which the rate that starts pacing is counted."""
START_CHANGES = 8
"""Complete changes within one WINDOW that start pacing (80 a second)."""
STOP_RATE = 40.0
"""Complete changes a second below which a tick stops pacing."""
_DEFAULT_QUEUE = 16384  # the kernel's default fs.inotify.max_queued_events


def queue_limit() -> int:
    """Return fs.inotify.max_queued_events (the kernel's default when it cannot be read)."""
    try:
        with open(sys_.MAX_QUEUED_EVENTS, encoding="ascii") as f:
            return max(int(f.read()), 1)
    except (OSError, ValueError):
        return _DEFAULT_QUEUE


class Pace:
    """Counts the rate of changes and says whether, and until when, the owner leaves reads.

    Owned by the owner thread. `tick_at` is 0.0 while the owner reads at once, else the
    monotonic time of the next read.

    Args:
        debounce: The watcher's debounce window in seconds.
        queue: The kernel's event queue limit; a tick may leave at most a quarter of it queued.
    """

    def __init__(self, *, debounce: float, queue: int) -> None:
        interval = min(MAX_TICK, debounce / 2)
        self.interval = interval if interval >= MIN_TICK else 0.0
        self.tick_at = 0.0
        self._cap = max(queue // 4, 1)
        self._since = 0.0
        self._changes = 0
        self._events = 0

    def after_read(self, now: float, changes: int, events: int) -> None:
        """After a read at once: start pacing when the rate has reached START_CHANGES a WINDOW.

        Args:
            now: Monotonic time.
            changes: Complete changes recorded so far (a running count).
            events: Kernel events read so far (a running count).
        """
        if not self.interval:
            return
        elapsed = now - self._since
        if elapsed >= WINDOW:
            self._restart(now, changes, events)
            return
        if changes - self._changes < START_CHANGES:
            return
        # The events a tick would leave in the kernel at this rate must fit with room to spare.
        if (events - self._events) * self.interval > self._cap * elapsed:
            return
        self.tick_at = now + self.interval
        self._restart(now, changes, events)

    def after_tick(self, now: float, changes: int, events: int) -> None:
        """After the read at a tick: set the next tick, or stop pacing.

        Args:
            now: Monotonic time.
            changes: Complete changes recorded so far (a running count).
            events: Kernel events read so far (a running count).
        """
        elapsed = max(now - self._since, 1e-3)
        slow = changes - self._changes < STOP_RATE * elapsed
        self.tick_at = 0.0 if slow or events - self._events > self._cap else now + self.interval
        self._restart(now, changes, events)

    def _restart(self, now: float, changes: int, events: int) -> None:
        self._since = now
        self._changes = changes
        self._events = events
