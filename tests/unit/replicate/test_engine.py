"""The engine: per-key serialisation, coalescing, retries on a fake clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from fsreplica.errors import DestinationError, InternalError
from fsreplica.replicate.backoff import Backoff
from fsreplica.replicate.engine import Engine, Mode, Retry, Task

DEADLINE = 10.0


class FakeClock:
    """A monotonic clock moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """An apply function that records calls and can block or fail on demand."""

    def __init__(self) -> None:
        self.calls: list[Task] = []
        self.lock = threading.Lock()
        self.gate: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self.failures: dict[str, int] = {}
        self.given_up: list[tuple[str, BaseException]] = []

    def __call__(self, task: Task) -> Retry | None:
        with self.lock:
            self.calls.append(Task(task.key, list(task.seqs), task.moved_from, task.mode))
            entered = self.entered.get(task.key)
            gate = self.gate.get(task.key)
            fails = self.failures.get(task.key, 0)
            if fails:
                self.failures[task.key] = fails - 1
        if entered is not None:
            entered.set()
        if gate is not None:
            assert gate.wait(DEADLINE)
        if fails:
            return Retry(DestinationError("put", task.key, "throttled", retryable=True))
        return None

    def give_up(self, task: Task, error: BaseException) -> None:
        self.given_up.append((task.key, error))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def engine(recorder: Recorder, clock: FakeClock) -> Iterator[Engine]:
    engine = Engine(
        recorder,
        give_up=recorder.give_up,
        transfers=3,
        backoff=Backoff(base=1.0, cap=4.0, max_attempts=3, random=lambda: 1.0),
        clock=clock,
    )
    engine.start()
    yield engine
    engine.stop()


class TestOrdering:
    """A later change of a key never overtakes an earlier one."""

    def test_waiting_tasks_of_a_busy_key_are_coalesced(
        self, engine: Engine, recorder: Recorder
    ) -> None:
        recorder.gate["k"] = threading.Event()
        recorder.entered["k"] = threading.Event()
        engine.submit(Task("k", [1]))
        assert recorder.entered["k"].wait(DEADLINE)
        engine.submit(Task("k", [2]))
        engine.submit(Task("k", [3], mode=Mode.FORCE))
        engine.submit(Task("other", [4]))
        recorder.gate["k"].set()
        assert engine.wait_idle(DEADLINE)
        k_calls = [(t.seqs, t.mode) for t in recorder.calls if t.key == "k"]
        assert k_calls == [([1], Mode.SYNC), ([2, 3], Mode.FORCE)]
        assert [t.key for t in recorder.calls].count("other") == 1

    def test_rename_holds_both_keys(self, engine: Engine, recorder: Recorder) -> None:
        recorder.gate["b"] = threading.Event()
        recorder.entered["b"] = threading.Event()
        engine.submit(Task("b", [1], moved_from="a"))
        assert recorder.entered["b"].wait(DEADLINE)
        engine.submit(Task("a", [2]))
        # "a" waits while the rename holds it.
        assert [t.key for t in recorder.calls] == ["b"]
        recorder.gate["b"].set()
        assert engine.wait_idle(DEADLINE)
        assert [t.key for t in recorder.calls] == ["b", "a"]

    def test_rename_from_a_busy_key_becomes_a_copy(
        self, engine: Engine, recorder: Recorder
    ) -> None:
        recorder.gate["a"] = threading.Event()
        recorder.entered["a"] = threading.Event()
        engine.submit(Task("a", [1]))
        assert recorder.entered["a"].wait(DEADLINE)
        recorder.entered["b"] = threading.Event()
        engine.submit(Task("b", [2], moved_from="a"))
        assert recorder.entered["b"].wait(DEADLINE)  # picked while "a" is still busy
        recorder.gate["a"].set()
        assert engine.wait_idle(DEADLINE)
        b = next(t for t in recorder.calls if t.key == "b")
        assert b.moved_from is None


class TestRetries:
    """Retryable failures come back after the backoff delay, on the engine's clock."""

    def test_retry_waits_for_the_clock(
        self, engine: Engine, recorder: Recorder, clock: FakeClock
    ) -> None:
        recorder.failures["k"] = 2
        engine.submit(Task("k", [1]))
        assert not engine.wait_idle(0.2)
        assert len(recorder.calls) == 1
        clock.now = 1.0  # first delay: base * 1 = 1.0
        engine.submit(Task("nudge"))  # wakes a worker to look at the clock
        assert not engine.wait_idle(0.2)
        assert [t.key for t in recorder.calls].count("k") == 2
        clock.now = 3.0  # second delay: 2.0
        engine.submit(Task("nudge2"))
        assert engine.wait_idle(DEADLINE)
        assert [t.key for t in recorder.calls].count("k") == 3
        assert recorder.given_up == []

    def test_gives_up_after_max_attempts(
        self, engine: Engine, recorder: Recorder, clock: FakeClock
    ) -> None:
        recorder.failures["k"] = 10
        engine.submit(Task("k", [7]))
        for now in (1.0, 3.0, 7.0):
            clock.now = now
            engine.submit(Task(f"nudge{now}"))
            engine.wait_idle(0.2)
        assert engine.wait_idle(DEADLINE)
        assert [key for key, _ in recorder.given_up] == ["k"]
        assert [t.key for t in recorder.calls].count("k") == 3

    def test_never_gives_up_without_an_attempt_limit(
        self, engine: Engine, recorder: Recorder, clock: FakeClock
    ) -> None:
        """Real-time replication: a destination down for long keeps the change, retried."""
        engine.backoff = Backoff(base=1.0, cap=4.0, max_attempts=None, random=lambda: 1.0)
        recorder.failures["k"] = 6

        def attempts() -> int:
            with recorder.lock:
                return [t.key for t in recorder.calls].count("k")

        def wait_attempts(n: int) -> None:
            deadline = time.monotonic() + DEADLINE
            while attempts() < n:
                assert time.monotonic() < deadline, f"{attempts()} attempts, expected {n}"
                time.sleep(0.005)

        engine.submit(Task("k", [7]))
        wait_attempts(1)

        def wait_rescheduled() -> None:
            deadline = time.monotonic() + DEADLINE
            while len(engine._delayed) != 1:
                assert time.monotonic() < deadline, "the failed attempt was not rescheduled"
                time.sleep(0.005)

        # Each failure is rescheduled from the clock as it reads when the attempt ends, so the
        # clock moves only once the attempt before has been rescheduled.
        for n, now in enumerate((1.0, 3.0, 7.0, 11.0, 15.0, 19.0), start=2):
            wait_rescheduled()
            clock.now = now  # delays 1, 2, 4, then capped at 4
            engine.submit(Task(f"nudge{now}"))
            wait_attempts(n)
        assert engine.wait_idle(DEADLINE)
        assert recorder.given_up == []
        assert [t.key for t in recorder.calls].count("k") == 7

    def test_newer_change_during_backoff_runs_first(
        self, engine: Engine, recorder: Recorder, clock: FakeClock
    ) -> None:
        recorder.failures["k"] = 1
        engine.submit(Task("k", [1]))
        assert not engine.wait_idle(0.2)
        engine.submit(Task("k", [2]))
        assert not engine.wait_idle(0.2)
        assert [t.seqs for t in recorder.calls] == [[1], [2]]
        clock.now = 1.0
        engine.submit(Task("nudge"))
        assert engine.wait_idle(DEADLINE)
        assert [t.seqs for t in recorder.calls if t.key == "k"] == [[1], [2], [1]]


def count(recorder: Recorder, key: str) -> int:
    with recorder.lock:
        return [t.key for t in recorder.calls].count(key)


def wait_count(recorder: Recorder, key: str, n: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while count(recorder, key) < n:
        assert time.monotonic() < deadline, f"{count(recorder, key)} calls of {key}, not {n}"
        time.sleep(0.005)


class TestOutage:
    """While the destination is down, waiting tasks are probed; when it is back, all run."""

    def test_a_waiting_task_is_probed_every_probe_interval_while_down(
        self, engine: Engine, recorder: Recorder, clock: FakeClock
    ) -> None:
        engine.backoff = Backoff(base=100.0, cap=100.0, max_attempts=None, random=lambda: 1.0)
        engine.probe_interval = 2.0
        recorder.failures["k"] = 3
        engine.outage(True)
        engine.submit(Task("k", [1]))
        wait_count(recorder, "k", 1)
        clock.now = 1.0
        engine.submit(Task("nudge"))
        assert not engine.wait_idle(0.1)
        assert count(recorder, "k") == 1  # its backoff (100 s) and the probe (2 s) both ahead
        clock.now = 2.0
        engine.submit(Task("nudge2"))
        wait_count(recorder, "k", 2)  # probed long before its backoff ends

    def test_no_probing_while_up(
        self, engine: Engine, recorder: Recorder, clock: FakeClock
    ) -> None:
        engine.backoff = Backoff(base=100.0, cap=100.0, max_attempts=None, random=lambda: 1.0)
        engine.probe_interval = 2.0
        recorder.failures["k"] = 3
        engine.submit(Task("k", [1]))
        wait_count(recorder, "k", 1)
        clock.now = 50.0
        engine.submit(Task("nudge"))
        assert not engine.wait_idle(0.1)
        assert count(recorder, "k") == 1

    def test_every_waiting_task_runs_when_the_destination_is_back(
        self, engine: Engine, recorder: Recorder
    ) -> None:
        engine.backoff = Backoff(base=100.0, cap=100.0, max_attempts=None, random=lambda: 1.0)
        for key in ("a", "b", "c"):
            recorder.failures[key] = 1
            engine.submit(Task(key, [1]))
        for key in ("a", "b", "c"):
            wait_count(recorder, key, 1)
        engine.outage(True)
        engine.outage(False)  # the clock has not moved: only the news can run them
        assert engine.wait_idle(DEADLINE)
        assert [count(recorder, key) for key in ("a", "b", "c")] == [2, 2, 2]


class TestRecheck:
    """Parked keys are checked again later, without counting as work."""

    def test_a_recheck_runs_when_due_and_is_not_work_in_progress(
        self, engine: Engine, recorder: Recorder, clock: FakeClock
    ) -> None:
        engine.recheck(Task("parked", parked=1), 5.0)
        engine.recheck(Task("parked", parked=1), 1.0)  # one check per key is enough
        assert engine.idle
        assert engine.backlog() == 0
        assert engine.wait_idle(0)
        clock.now = 5.0
        engine.submit(Task("nudge"))
        wait_count(recorder, "parked", 1)
        assert engine.wait_idle(DEADLINE)
        clock.now = 100.0
        engine.submit(Task("nudge2"))
        assert engine.wait_idle(DEADLINE)
        assert count(recorder, "parked") == 1


class TestFailure:
    """A worker that meets an exception stops the engine instead of running on without it."""

    def test_the_exception_stops_the_engine_and_is_reported(self, clock: FakeClock) -> None:
        reported: list[InternalError] = []

        def apply(task: Task) -> Retry | None:
            raise RuntimeError(f"bug with {task.key}")

        engine = Engine(
            apply, give_up=lambda t, e: None, transfers=2, clock=clock, on_failure=reported.append
        )
        engine.start()
        try:
            engine.submit(Task("k"))
            assert engine.wait_idle(DEADLINE)  # returns: it does not wait on a dead worker
            failure = engine.failure
            assert failure is not None
            assert reported == [failure]
            assert failure.thread.startswith("fsreplica-transfer-")
            assert str(failure).endswith("RuntimeError: bug with k")
            assert isinstance(failure.__cause__, RuntimeError)
        finally:
            engine.stop()


def test_stop_is_idempotent(recorder: Recorder) -> None:
    engine = Engine(recorder, give_up=recorder.give_up, transfers=2)
    engine.start()
    engine.stop()
    engine.stop()
    with pytest.raises(ValueError):
        Engine(recorder, give_up=recorder.give_up, transfers=0)


class TestBacklog:
    """A producer faster than the workers waits while the backlog is full."""

    def test_wait_room_blocks_until_half_the_backlog_is_taken(
        self, engine: Engine, recorder: Recorder
    ) -> None:
        for key in "abc":  # the three workers, each held by a task
            recorder.gate[key] = threading.Event()
            recorder.entered[key] = threading.Event()
            engine.submit(Task(key))
            assert recorder.entered[key].wait(DEADLINE)
        for n in range(8):
            engine.submit(Task(f"w{n}"))
        room = threading.Event()

        def produce() -> None:
            engine.wait_room(8)
            room.set()

        producer = threading.Thread(target=produce, name="producer")
        producer.start()
        try:
            assert not room.wait(0.2)  # 8 waiting: full
            for key in "abc":
                recorder.gate[key].set()
            assert room.wait(DEADLINE)
        finally:
            for key in "abc":
                recorder.gate[key].set()
            producer.join(DEADLINE)
        assert engine.wait_idle(DEADLINE)

    def test_release_ends_a_wait_for_room(self, engine: Engine, recorder: Recorder) -> None:
        recorder.gate["a"] = threading.Event()
        recorder.entered["a"] = threading.Event()
        for key in ("a", "a", "b", "c", "d", "e"):
            engine.submit(Task(key))
        assert recorder.entered["a"].wait(DEADLINE)
        room = threading.Event()

        def produce() -> None:
            engine.wait_room(1)  # a key held by a task that never ends: never room by itself
            room.set()

        producer = threading.Thread(target=produce, name="producer")
        producer.start()
        try:
            engine.release()
            assert room.wait(DEADLINE)
            engine.wait_room(1)  # released: at once
        finally:
            recorder.gate["a"].set()
            producer.join(DEADLINE)

    def test_wait_room_returns_at_once_without_workers(self, recorder: Recorder) -> None:
        engine = Engine(recorder, give_up=recorder.give_up, transfers=1)
        for n in range(4):
            engine.submit(Task(f"k{n}"))
        engine.wait_room(2)  # never started: nothing would take them
        engine.start()
        engine.stop()
        engine.wait_room(2)  # stopped
