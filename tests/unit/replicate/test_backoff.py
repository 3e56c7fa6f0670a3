"""Backoff delays and the delay queue, with a fixed random source."""

from __future__ import annotations

import pytest

from fsreplica.replicate.backoff import Backoff, DelayQueue


class TestBackoff:
    """Capped, jittered exponential delays."""

    def test_grows_then_caps(self) -> None:
        backoff = Backoff(base=0.1, cap=1.0, random=lambda: 1.0)
        assert [backoff.delay(n) for n in range(1, 7)] == pytest.approx(
            [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
        )

    def test_jitter_stays_between_half_and_full(self) -> None:
        low = Backoff(base=0.1, cap=1.0, random=lambda: 0.0)
        assert low.delay(3) == pytest.approx(0.2)
        mid = Backoff(base=0.1, cap=1.0, random=lambda: 0.5)
        assert mid.delay(3) == pytest.approx(0.3)

    def test_gives_up(self) -> None:
        backoff = Backoff(max_attempts=3)
        assert not backoff.gives_up(2)
        assert backoff.gives_up(3)
        assert not Backoff(max_attempts=None).gives_up(10**6)

    def test_invalid(self) -> None:
        with pytest.raises(ValueError):
            Backoff(base=0)
        with pytest.raises(ValueError):
            Backoff(base=2, cap=1)
        with pytest.raises(ValueError):
            Backoff(max_attempts=0)


class TestDelayQueue:
    """Items come out when due, earliest first."""

    def test_order_and_due(self) -> None:
        queue: DelayQueue[str] = DelayQueue()
        queue.push(5.0, "late")
        queue.push(1.0, "early")
        queue.push(1.0, "early2")
        assert queue.next_due() == 1.0
        assert queue.pop_due(0.5) == []
        assert queue.pop_due(1.0) == ["early", "early2"]
        assert len(queue) == 1
        assert queue.pop_due(10.0) == ["late"]
        assert queue.next_due() is None
