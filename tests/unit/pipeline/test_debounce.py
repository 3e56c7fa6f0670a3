"""The debouncer's rules, driven by a fake clock."""

from __future__ import annotations

import pytest

from fsreplica.pipeline import Debouncer, Release
from fsreplica.pipeline.debounce import SWEEP_AFTER

DELAY = 0.1
QUIET = 1.0


@pytest.fixture
def deb() -> Debouncer[str]:
    return Debouncer(delay=DELAY, quiet=QUIET)


def keys(releases: list[Release[str]]) -> list[str]:
    return [r.key for r in releases]


class TestWindow:
    """Leading edge at once, trailing edge with the final state."""

    def test_first_change_released_at_once(self, deb: Debouncer[str]) -> None:
        rel = deb.complete("a", now=0.0, wall=100.0)
        assert rel == Release("a", 100.0, None)

    def test_window_with_nothing_to_release_needs_no_wake_up(self, deb: Debouncer[str]) -> None:
        deb.complete("a", now=0.0, wall=0.0)
        # Its end releases nothing: it is only swept, later, unless a pop_due comes first.
        assert deb.next_deadline() == pytest.approx(DELAY + SWEEP_AFTER)
        assert deb.pop_due(DELAY) == []
        assert len(deb) == 0
        assert deb.next_deadline() is None

    def test_window_holding_a_change_is_due_at_its_end(self, deb: Debouncer[str]) -> None:
        deb.complete("a", now=0.0, wall=0.0)
        deb.complete("b", now=0.05, wall=0.05)
        assert deb.complete("b", now=0.06, wall=0.06) is None
        assert deb.next_deadline() == pytest.approx(0.05 + DELAY)
        assert deb.pop_due(0.05 + DELAY) == [Release("b", 0.06, None)]
        # "a" was forgotten by the same call; "b"'s new window holds nothing
        assert len(deb) == 1
        assert deb.next_deadline() == pytest.approx(0.05 + 2 * DELAY + SWEEP_AFTER)

    def test_completed_dirty_slot_needs_no_quiet_wake_up(self, deb: Debouncer[str]) -> None:
        deb.dirty("f", now=0.0, wall=0.0)
        assert deb.next_deadline() == pytest.approx(QUIET)
        deb.complete("f", now=0.01, wall=0.01)
        assert deb.next_deadline() == pytest.approx(0.01 + DELAY + SWEEP_AFTER)

    def test_changes_in_window_are_coalesced_and_released_at_its_end(
        self, deb: Debouncer[str]
    ) -> None:
        assert deb.complete("a", now=0.0, wall=0.0) is not None
        assert deb.complete("a", now=0.03, wall=0.03) is None
        assert deb.complete("a", now=0.06, wall=0.06) is None
        assert deb.pop_due(0.09) == []
        assert deb.pop_due(0.1) == [Release("a", 0.06, None)]
        # the release opened a new window; a quiet one then expires the slot
        assert deb.pop_due(0.2) == []
        assert len(deb) == 0
        assert deb.next_deadline() is None

    def test_seed_timing_example(self) -> None:
        deb: Debouncer[str] = Debouncer(delay=0.2, quiet=QUIET)
        released = []
        for now in (0.0, 0.05, 0.1, 0.25):
            released += [f"f@{r.time}" for r in deb.pop_due(now)]
            rel = deb.complete("f", now=now, wall=now)
            if rel is not None:
                released.append(f"f@{now}")
        for now in (0.2, 0.4, 0.6):
            released += [f"f@{r.time}" for r in deb.pop_due(now)]
        # v1 at once, v3 when the first window closes, v4 when the second closes
        assert released == ["f@0.0", "f@0.1", "f@0.25"]

    def test_change_after_window_is_released_at_once(self, deb: Debouncer[str]) -> None:
        deb.complete("a", now=0.0, wall=0.0)
        # the window is over but pop_due was not called in between
        assert deb.complete("a", now=0.5, wall=0.5) is not None

    def test_keys_are_independent(self, deb: Debouncer[str]) -> None:
        assert deb.complete("a", now=0.0, wall=0.0) is not None
        assert deb.complete("b", now=0.01, wall=0.0) is not None
        assert "a" in deb
        assert "b" in deb

    def test_zero_delay_releases_everything_at_once(self) -> None:
        deb: Debouncer[str] = Debouncer(delay=0, quiet=QUIET)
        for i in range(3):
            assert deb.complete("a", now=float(i), wall=0.0) is not None
        assert len(deb) == 0

    def test_moved_from_kept_until_release(self, deb: Debouncer[str]) -> None:
        deb.complete("new", now=0.0, wall=0.0)
        assert deb.complete("new", now=0.01, wall=0.0, moved_from="old") is None
        assert deb.complete("new", now=0.02, wall=0.0) is None
        assert deb.pop_due(0.1) == [Release("new", 0.0, "old")]

    def test_moved_from_on_immediate_release(self, deb: Debouncer[str]) -> None:
        assert deb.complete("n", now=0, wall=0, moved_from="o") == Release("n", 0, "o")


class TestDirty:
    """Written but not closed: released when complete, or after the quiet period."""

    def test_dirty_then_close(self, deb: Debouncer[str]) -> None:
        deb.dirty("log", now=0.0, wall=0.0)
        assert deb.is_dirty("log")
        assert deb.pop_due(0.5) == []
        assert deb.complete("log", now=0.5, wall=0.5) == Release("log", 0.5, None)
        assert not deb.is_dirty("log")

    def test_quiet_releases_unclosed_file(self, deb: Debouncer[str]) -> None:
        deb.dirty("log", now=0.0, wall=0.0)
        deb.dirty("log", now=0.6, wall=0.6)
        assert deb.pop_due(1.0) == []  # written again at 0.6: not quiet yet
        assert deb.pop_due(1.6) == [Release("log", 0.6, None)]

    def test_quiet_inside_window_waits_for_window(self) -> None:
        deb: Debouncer[str] = Debouncer(delay=2.0, quiet=0.5)
        deb.complete("f", now=0.0, wall=0.0)
        deb.dirty("f", now=0.1, wall=0.1)
        assert deb.pop_due(0.6) == []
        assert deb.pop_due(2.0) == [Release("f", 0.1, None)]

    def test_dirty_slot_survives_window_end(self, deb: Debouncer[str]) -> None:
        deb.complete("f", now=0.0, wall=0.0)
        deb.dirty("f", now=0.05, wall=0.05)
        assert deb.pop_due(0.1) == []
        assert deb.is_dirty("f")
        assert deb.complete("f", now=0.2, wall=0.2) is not None

    def test_discard(self, deb: Debouncer[str]) -> None:
        deb.dirty("f", now=0.0, wall=0.0)
        deb.discard("f")
        deb.discard("never-seen")
        assert deb.pop_due(5.0) == []
        assert deb.next_deadline() is None


class TestDrain:
    """Stopping releases everything that is held."""

    def test_drain(self, deb: Debouncer[str]) -> None:
        deb.complete("a", now=0.0, wall=0.0)
        deb.complete("a", now=0.01, wall=0.01)  # held for the window
        deb.dirty("b", now=0.0, wall=0.0)
        deb.complete("c", now=0.0, wall=0.0)  # released, nothing held
        assert sorted(keys(deb.drain())) == ["a", "b"]
        assert len(deb) == 0
        assert deb.next_deadline() is None
