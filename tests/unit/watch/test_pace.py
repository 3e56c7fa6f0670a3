"""When the inotify owner reads at ticks rather than at each event (`watch/_pace.py`)."""

from __future__ import annotations

from fsreplica.watch._pace import MAX_TICK, MIN_TICK, START_CHANGES, WINDOW, Pace


def _trickle(pace: Pace, *, rate: float, seconds: float, events_per_change: int = 3) -> float:
    """Feed reads at once at `rate` changes a second; return the time of the last one."""
    now = 0.0
    for i in range(int(rate * seconds)):
        now = (i + 1) / rate
        pace.after_read(now, i + 1, (i + 1) * events_per_change)
        if pace.tick_at:
            break
    return now


class TestStart:
    def test_a_steady_trickle_starts_pacing(self) -> None:
        pace = Pace(debounce=0.1, queue=16384)
        now = _trickle(pace, rate=100, seconds=1)
        assert pace.tick_at == now + MAX_TICK  # 10 changes gather in 100 ms

    def test_isolated_changes_are_read_at_once(self) -> None:
        # 50 a second (one every 20 ms, as replication_bench's latency writer) never paces.
        pace = Pace(debounce=0.1, queue=16384)
        _trickle(pace, rate=50, seconds=5)
        assert pace.tick_at == 0.0

    def test_debounce_zero_never_paces(self) -> None:
        pace = Pace(debounce=0.0, queue=16384)
        _trickle(pace, rate=1000, seconds=1)
        assert pace.tick_at == 0.0

    def test_a_short_window_never_paces(self) -> None:
        pace = Pace(debounce=0.03, queue=16384)
        _trickle(pace, rate=1000, seconds=1)
        assert pace.tick_at == 0.0

    def test_the_tick_is_at_most_the_window(self) -> None:
        pace = Pace(debounce=0.05, queue=16384)
        now = _trickle(pace, rate=100, seconds=1)
        assert pace.tick_at == now + 0.05

    def test_a_faster_trickle_gets_shorter_ticks(self) -> None:
        pace = Pace(debounce=0.1, queue=16384)
        now = _trickle(pace, rate=200, seconds=1)
        assert abs(pace.tick_at - (now + 0.05)) < 1e-9
        pace = Pace(debounce=0.1, queue=16384)
        now = _trickle(pace, rate=5000, seconds=1)
        assert pace.tick_at == now + MIN_TICK

    def test_a_burst_filling_the_queue_fast_is_not_paced(self) -> None:
        # 100,000 files a second would leave 15,000 events in the kernel over one tick.
        pace = Pace(debounce=0.1, queue=16384)
        _trickle(pace, rate=100_000, seconds=0.01)
        assert pace.tick_at == 0.0

    def test_a_small_queue_lowers_the_rate_that_paces(self) -> None:
        pace = Pace(debounce=0.1, queue=256)
        _trickle(pace, rate=1000, seconds=1)
        assert pace.tick_at == 0.0


class TestTicks:
    def _paced(self) -> Pace:
        pace = Pace(debounce=0.1, queue=16384)
        _trickle(pace, rate=100, seconds=1)
        assert pace.tick_at
        return pace

    def test_the_trickle_goes_on(self) -> None:
        pace = self._paced()
        tick = pace.tick_at
        pace.after_tick(tick, START_CHANGES + 10, 0)  # 10 more in 100 ms
        assert abs(pace.tick_at - (tick + MAX_TICK)) < 1e-9

    def test_a_slow_tick_stops_pacing(self) -> None:
        pace = self._paced()
        # One change in 100 ms: 10 a second.
        pace.after_tick(pace.tick_at, START_CHANGES + 1, START_CHANGES * 3 + 3)
        assert pace.tick_at == 0.0

    def test_a_burst_during_a_tick_stops_pacing(self) -> None:
        pace = self._paced()
        pace.after_tick(pace.tick_at, 10_000, 30_000)
        assert pace.tick_at == 0.0

    def test_after_stopping_the_rate_is_counted_afresh(self) -> None:
        pace = self._paced()
        end = pace.tick_at
        pace.after_tick(end, START_CHANGES, 0)  # no change in the tick
        assert pace.tick_at == 0.0
        # One change right after must not count the old trickle's changes.
        pace.after_read(end + WINDOW / 10, START_CHANGES + 1, 3)
        assert pace.tick_at == 0.0
