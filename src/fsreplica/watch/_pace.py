"""When the inotify owner reads under a steady trickle of changes: at ticks, not at each event.

A writer changing a file every few milliseconds wakes a watcher that reads at once for every
file: the owner thread for the event (often twice: the create, then the close), and the consumer
for the hand-off. Each wake-up of a Python thread costs tens of microseconds of CPU, several
times what handling the file does. Under such a trickle the owner stops polling the inotify fd
and reads what the kernel queued once per tick, so one wake-up of each thread serves every file
of the tick; the debounce deadlines that fall due are released at the same wake-up.

A tick lasts as long as TICK_CHANGES changes take to gather at the current rate, between MIN_TICK
and the debounce window (at most MAX_TICK): the same bound the debouncer already puts on a path's
later changes; a watcher with debounce 0 never paces. Pacing starts only at a rate no single save
or isolated change reaches, so the latency of an isolated change is unchanged. It stops as soon
as a tick finds the rate fallen, or finds the kernel queue filling faster than a tick can safely
leave it (a burst: the burst handling takes over).
"""

from __future__ import annotations

from fsreplica.watch import _inotify_sys as sys_

MAX_TICK = 0.1
"""Seconds between reads while pacing, at most (and never more than the debounce window)."""
MIN_TICK = 0.04
"""Seconds between reads while pacing, at least; a shorter debounce window disables pacing."""
TICK_CHANGES = 10
"""Changes a tick aims to gather: the wake-ups of a tick cost about what handling 10 files does."""
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
        longest = min(MAX_TICK, debounce)
        self.longest = longest if longest >= MIN_TICK else 0.0
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
        if not self.longest:
            return
        elapsed = now - self._since
        if elapsed >= WINDOW:
            self._restart(now, changes, events)
            return
        if changes - self._changes < START_CHANGES:
            return
        interval = self._interval(changes - self._changes, elapsed)
        # The events a tick would leave in the kernel at this rate must fit with room to spare.
        if (events - self._events) * interval > self._cap * elapsed:
            return
        self.tick_at = now + interval
        self._restart(now, changes, events)

    def after_tick(self, now: float, changes: int, events: int) -> None:
        """After the read at a tick: set the next tick, or stop pacing.

        Args:
            now: Monotonic time.
            changes: Complete changes recorded so far (a running count).
            events: Kernel events read so far (a running count).
        """
        elapsed = max(now - self._since, 1e-3)
        count = changes - self._changes
        if count < STOP_RATE * elapsed or events - self._events > self._cap:
            self.tick_at = 0.0
        else:
            self.tick_at = now + self._interval(count, elapsed)
        self._restart(now, changes, events)

    def _interval(self, count: int, elapsed: float) -> float:
        """The tick in which TICK_CHANGES gather at `count` changes in `elapsed` seconds."""
        return min(max(TICK_CHANGES * elapsed / count, MIN_TICK), self.longest)

    def _restart(self, now: float, changes: int, events: int) -> None:
        self._since = now
        self._changes = changes
        self._events = events
