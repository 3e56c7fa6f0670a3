"""StateSummary: a policy's failures, refusal and oldest change, read without waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fsreplica.daemon.summary import FRESH, STALE, StateSummary, SummaryReader
from fsreplica.replicate.journal import Journal
from fsreplica.replicate.state import State


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state(tmp_path: Path) -> Iterator[State]:
    with State(tmp_path / "state.db") as state:
        yield state


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds, or fail after 20 s."""
    end = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def fail(state: State, key: str, reason: str = "access denied") -> None:
    with state.transaction() as db:
        state.fail(db, key, "put", reason)


class TestStateSummaryOfState:
    """State.summary: the figures a status shows, in one hold of the lock."""

    def test_figures(self, state: State) -> None:
        for key in ("b", "a", "c"):
            fail(state, key)
        state.set_meta(deletes_refused="more than half of DEST")
        Journal(state).append("x", "put", when=123.5)
        Journal(state).append("y", "put", when=124.0)
        summary = state.summary(shown=2)
        assert summary.failures == 3
        assert [f.key for f in summary.failing] == ["b", "a"]  # oldest first
        assert summary.failing[0].reason == "access denied"
        assert summary.refused == "more than half of DEST"
        assert summary.oldest_pending == 123.5

    def test_empty(self, state: State) -> None:
        state.set_meta(deletes_refused="")  # settled by a reconcile
        summary = state.summary(shown=5)
        assert (summary.failures, summary.failing, summary.refused) == (0, (), None)
        assert summary.oldest_pending is None

    def test_held_lock_refuses_without_waiting(self, state: State) -> None:
        with state.lock, pytest.raises(TimeoutError):
            state.summary(shown=5, wait=False)


class TestStateSummary:
    """What status reads: kept, read again when stale, never waited for."""

    def test_read_when_stale_kept_meanwhile(self, state: State) -> None:
        clock = Clock()
        summary = StateSummary(shown=5, clock=clock)
        fail(state, "a")
        assert summary.get(state).failures == 1
        fail(state, "b")
        clock.now += STALE / 2
        assert summary.get(state).failures == 1  # kept
        clock.now += STALE
        assert summary.get(state).failures == 2

    def test_a_held_state_answers_what_was_read(self, state: State) -> None:
        clock = Clock()
        summary = StateSummary(shown=5, clock=clock)
        fail(state, "a")
        assert summary.get(state).failures == 1
        clock.now += STALE * 2
        with state.lock:  # a writer's commit
            kept = summary.get(state)
            assert [f.key for f in kept.failing] == ["a"]
            summary.refresh(state)  # a worker gives up too
        fail(state, "b")
        assert summary.get(state).failures == 2

    def test_a_worker_reads_at_most_once_a_second(self, state: State) -> None:
        clock = Clock()
        summary = StateSummary(shown=5, clock=clock)
        summary.refresh(state)
        fail(state, "a")
        summary.refresh(state)
        assert summary.get(state, older_than=STALE).failures == 0
        clock.now += FRESH
        summary.refresh(state)
        assert summary.get(state, older_than=STALE).failures == 1

    def test_a_reconcile_reads_now_and_waits(self, state: State) -> None:
        summary = StateSummary(shown=5, clock=Clock())
        summary.refresh(state)
        fail(state, "a")
        summary.refresh(state, wait=True, older_than=0)
        assert summary.get(state).failures == 1

    def test_a_closed_state_leaves_it_as_it_was(self, tmp_path: Path) -> None:
        clock = Clock()
        summary = StateSummary(shown=5, clock=clock)
        state = State(tmp_path / "s.db")
        fail(state, "a")
        summary.refresh(state)
        state.close()
        clock.now += STALE * 2
        assert summary.get(state).failures == 1

    def test_no_state_yet(self) -> None:
        assert StateSummary(shown=5).get(None).failures == 0


class TestSummaryReader:
    """A stale summary is read by the reader's thread, not by the status call."""

    def test_stale_summary_read_by_the_reader(self, state: State) -> None:
        clock = Clock()
        reader = SummaryReader()
        try:
            summary = StateSummary(shown=5, reader=reader, clock=clock)
            assert summary.get(state).failures == 0  # asked; answered with what it has
            fail(state, "a")
            clock.now += STALE
            wait_for(lambda: summary.get(state).failures == 1, "the reader's read")
        finally:
            reader.close()

    def test_a_held_state_is_asked_again_later(self, state: State) -> None:
        clock = Clock()
        reader = SummaryReader()
        try:
            summary = StateSummary(shown=5, reader=reader, clock=clock)
            fail(state, "a")
            with state.lock:
                assert summary.get(state).failures == 0  # the reader gives up meanwhile
            wait_for(lambda: summary.get(state).failures == 1, "the reader's read")
        finally:
            reader.close()

    def test_closed_reader_ignores_requests(self, state: State) -> None:
        reader = SummaryReader()
        reader.close()
        reader.close()
        assert StateSummary(shown=5, reader=reader).get(state).failures == 0
