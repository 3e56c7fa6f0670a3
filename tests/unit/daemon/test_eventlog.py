"""The daemon's event log: numbered from 1, bounded, long-polled."""

from __future__ import annotations

import threading

from fsreplica.daemon.eventlog import EventLog


class TestEventLog:
    """Ids increase by one; a client that fell behind sees the gap."""

    def test_ids_from_one(self) -> None:
        log = EventLog()
        for n in range(3):
            log.emit("put", policy="a", path=f"f{n}")
        page = log.page(0)
        assert [e.id for e in page.events] == [1, 2, 3]
        assert (page.next, page.first) == (3, 1)
        assert log.page(3).events == ()
        assert log.page(3).next == 3

    def test_limit(self) -> None:
        log = EventLog()
        for _ in range(5):
            log.emit("delete")
        page = log.page(1, limit=2)
        assert [e.id for e in page.events] == [2, 3]
        assert page.next == 3

    def test_a_gap_when_the_buffer_dropped_events(self) -> None:
        log = EventLog(capacity=3)
        for _ in range(10):
            log.emit("put")
        page = log.page(2)
        assert page.first == 8
        assert [e.id for e in page.events] == [8, 9, 10]

    def test_since_above_the_newest_reads_from_the_oldest(self) -> None:
        log = EventLog()
        log.emit("put")
        assert [e.id for e in log.page(500).events] == [1]

    def test_an_empty_log(self) -> None:
        page = EventLog().page(0)
        assert (page.events, page.next, page.first) == ((), 0, 1)

    def test_long_poll_wakes_on_the_next_event(self) -> None:
        log = EventLog()
        got: list[int] = []
        waiting = threading.Thread(
            target=lambda: got.extend(e.id for e in log.page(0, timeout=20).events),
            name="fsreplica-test-poll",
        )
        waiting.start()
        log.emit("put")
        waiting.join(20)
        assert got == [1]

    def test_close_wakes_the_waiting(self) -> None:
        log = EventLog()
        done = threading.Event()

        def poll() -> None:
            log.page(0, timeout=20)
            done.set()

        waiting = threading.Thread(target=poll, name="fsreplica-test-poll")
        waiting.start()
        log.close()
        waiting.join(20)
        assert done.is_set()
        assert log.page(0, timeout=20).events == ()  # closed: never waits again
