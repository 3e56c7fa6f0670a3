"""The bounded hand-off between the owner thread and consumers."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from fsreplica.pipeline import CLOSED, Channel


class TestChannel:
    """FIFO order, closing, room signals and async waits."""

    def test_fifo_and_close(self) -> None:
        ch: Channel[int] = Channel(4)
        ch.push([1, 2])
        ch.put(3)
        ch.close()
        assert ch.closed
        assert [ch.get(), ch.get(), ch.get(), ch.get()] == [1, 2, 3, CLOSED]
        assert repr(CLOSED) == "CLOSED"

    def test_room(self) -> None:
        ch: Channel[int] = Channel(4)
        assert ch.room() == 4
        ch.push(range(6))
        assert ch.room() == -2
        assert len(ch) == 6

    def test_on_space_called_at_low_water(self) -> None:
        calls: list[int] = []
        ch: Channel[int] = Channel(4)
        ch.set_on_space(lambda: calls.append(len(ch)))
        ch.push(range(4), want_space=True)
        ch.get()
        assert calls == []
        ch.get()  # two left: half the capacity
        assert calls == [2]
        ch.get()
        assert calls == [2]  # once per request

    def test_room_already_made_is_said_at_once(self) -> None:
        """The producer found the channel full, then the consumer drained it before the push."""
        calls: list[int] = []
        ch: Channel[int] = Channel(4, on_space=lambda: calls.append(len(ch)))
        ch.push([1, 2, 3, 4])
        assert ch.room() == 0  # the producer keeps the rest back
        assert ch.get_batch() == [1, 2, 3, 4]  # the consumer takes everything meanwhile
        assert calls == []  # nobody had asked
        ch.push([], want_space=True)  # the producer asks, too late to be told by a take
        assert calls == [0]

    def test_get_blocks_until_push(self) -> None:
        ch: Channel[int] = Channel(2)
        got: list[object] = []
        thread = threading.Thread(target=lambda: got.append(ch.get()))
        thread.start()
        ch.push([7])
        thread.join(5)
        assert got == [7]

    def test_get_nowait(self) -> None:
        ch: Channel[int] = Channel(2)
        assert ch.get_nowait() is None
        ch.put(1)
        assert ch.get_nowait() == 1
        ch.close()
        assert ch.get_nowait() is CLOSED

    def test_drain(self) -> None:
        ch: Channel[int] = Channel(2)
        ch.push([1, 2, 3])
        assert ch.drain() == [1, 2, 3]
        assert len(ch) == 0

    def test_wait_async(self) -> None:
        async def main() -> list[object]:
            ch: Channel[int] = Channel(2)
            loop = asyncio.get_running_loop()
            ready = ch.wait_async(loop)
            assert not ready.done()
            threading.Thread(target=ch.put, args=(5,)).start()
            await asyncio.wait_for(ready, 5)
            already = ch.wait_async(loop)
            assert already.done()
            return [ch.get_nowait()]

        assert asyncio.run(main()) == [5]

    def test_wake_after_loop_closed_is_harmless(self) -> None:
        ch: Channel[int] = Channel(2)
        loop = asyncio.new_event_loop()
        ch.wait_async(loop)
        loop.close()
        ch.put(1)
        assert ch.get() == 1


class TestBatches:
    """Consumers take everything in one lock round and give back what they did not deliver."""

    def test_get_batch_and_unget(self) -> None:
        calls: list[int] = []
        ch: Channel[int] = Channel(4, on_space=lambda: calls.append(1))
        ch.push([1, 2, 3], want_space=True)
        assert ch.get_batch() == [1, 2, 3]
        assert calls == [1]
        ch.push([4])
        ch.unget([2, 3])
        assert ch.get_batch() == [2, 3, 4]
        ch.unget([])
        ch.close()
        assert ch.get_batch() is CLOSED


def _sleepers(ch: Channel[int], count: int) -> None:
    """Wait (bounded) until `count` consumers sleep on the channel."""
    deadline = time.monotonic() + 10
    while ch._sleepers + ch._deferred < count:
        assert time.monotonic() < deadline, "the consumers never went to sleep"
        time.sleep(0.001)


class TestEventfdBell:
    """Consumers asleep on an eventfd, woken by the producer when it goes to sleep itself."""

    def test_deferred_push_wakes_with_take_ring(self) -> None:
        ch: Channel[int] = Channel(4, eventfd_bell=True)
        got: list[object] = []
        thread = threading.Thread(target=lambda: got.append(ch.get_batch()))
        thread.start()
        _sleepers(ch, 1)
        ch.push([1, 2], defer=True)
        bell, ring = ch.take_ring()
        assert ring == 1
        assert ch.take_ring() == (-1, 0)  # taken once
        os.eventfd_write(bell, ring)
        thread.join(5)
        assert got == [[1, 2]]
        ch.close()
        assert ch._bell_fd == -1

    def test_close_wakes_consumers_the_producer_did_not(self) -> None:
        ch: Channel[int] = Channel(4, eventfd_bell=True)
        got: list[object] = []
        threads = [threading.Thread(target=lambda: got.append(ch.get())) for _ in range(2)]
        for thread in threads:
            thread.start()
        _sleepers(ch, 2)
        ch.push([5], defer=True)  # the producer stops before its next sleep
        ch.close()
        for thread in threads:
            thread.join(5)
        assert sorted(got, key=str) == [5, CLOSED]
        assert ch._bell_fd == -1

    def test_without_sleepers_no_fd_is_made(self) -> None:
        ch: Channel[int] = Channel(4, eventfd_bell=True)
        ch.push([1], defer=True)
        assert ch.take_ring() == (-1, 0)
        assert ch.get() == 1
        ch.close()
        assert ch._bell_fd == -1

    def test_queue_bell_is_rung_by_take_ring(self) -> None:
        ch: Channel[int] = Channel(4)
        got: list[object] = []
        thread = threading.Thread(target=lambda: got.append(ch.get()))
        thread.start()
        _sleepers(ch, 1)
        ch.push([3], defer=True)
        assert ch.take_ring() == (-1, 0)  # rung here: nothing left to the producer
        thread.join(5)
        assert got == [3]
