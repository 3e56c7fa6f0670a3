"""Retry timing: capped, jittered exponential backoff, and a queue of delayed items."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_BASE_DELAY = 0.05
"""Seconds before the first retry (before jitter)."""
DEFAULT_MAX_DELAY = 30.0
"""Cap on any single delay, in seconds."""
DEFAULT_MAX_ATTEMPTS = 8
"""Attempts in all (the first try included) before a change is parked as failed."""


@dataclass(frozen=True, kw_only=True)
class Backoff:
    """Delays between attempts: `base * factor**(attempt-1)`, capped, with "equal jitter".

    The jitter draws the delay uniformly from [d/2, d], so retries of many keys that failed
    together spread out, yet never come back at once.

    Attributes:
        base: The first delay before jitter, in seconds.
        cap: The largest delay, in seconds.
        factor: Growth per attempt.
        max_attempts: Attempts in all before giving up; None never gives up (real-time
            replication: a destination that is down for a while must not lose a change).
        random: A source of floats in [0, 1); tests pass a fixed one.
    """

    base: float = DEFAULT_BASE_DELAY
    cap: float = DEFAULT_MAX_DELAY
    factor: float = 2.0
    max_attempts: int | None = DEFAULT_MAX_ATTEMPTS
    random: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        attempts_ok = self.max_attempts is None or self.max_attempts >= 1
        if self.base <= 0 or self.cap < self.base or self.factor < 1 or not attempts_ok:
            raise ValueError("backoff needs 0 < base <= cap, factor >= 1, max_attempts >= 1")

    def delay(self, attempt: int) -> float:
        """Return the delay after failed attempt number `attempt` (1 for the first failure)."""
        ceiling = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        return ceiling / 2 + self.random() * ceiling / 2

    def gives_up(self, attempt: int) -> bool:
        """True when `attempt` failed attempts exhaust the budget."""
        return self.max_attempts is not None and attempt >= self.max_attempts


class DelayQueue(Generic[T]):
    """Items that become due at a time of a caller-supplied clock; not thread-safe."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._counter = itertools.count()

    def push(self, due: float, item: T) -> None:
        """Add `item`, due at `due`."""
        heapq.heappush(self._heap, (due, next(self._counter), item))

    def pop_due(self, now: float) -> list[T]:
        """Remove and return the items due at or before `now`, earliest first."""
        out: list[T] = []
        while self._heap and self._heap[0][0] <= now:
            out.append(heapq.heappop(self._heap)[2])
        return out

    def pop_first(self, count: int = 1) -> list[T]:
        """Remove and return the `count` earliest items, whether due or not, earliest first."""
        return [heapq.heappop(self._heap)[2] for _ in range(min(count, len(self._heap)))]

    def next_due(self) -> float | None:
        """Return when the earliest item is due, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)
