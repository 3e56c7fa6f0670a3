"""The destination lease: one writer at a time, a standby that takes over when it expires."""

from __future__ import annotations

import heapq
import json
import threading
import time
from pathlib import Path

import pytest

from fsreplica.daemon.lease import Holder, Lease, LeaseKeeper, _Kept
from fsreplica.destinations import LEASE_KEY, features_of
from fsreplica.destinations.local import LocalDestination
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.errors import DestinationError


class Clock:
    """A clock the test moves: monotonic and wall time together."""

    def __init__(self) -> None:
        self.now = 1000.0

    def mono(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now


def lease(
    dest: MemoryDestination | LocalDestination, owner: str, clock: Clock, **kw: float
) -> Lease:
    cas = features_of(dest).conditional
    assert cas is not None
    return Lease(
        cas, url=dest.url, owner=owner, ttl=kw.get("ttl", 30.0), clock=clock.mono, wall=clock.wall
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dest() -> MemoryDestination:
    return MemoryDestination("lease")


class TestAcquire:
    """Exactly one owner holds it; the other sees who."""

    def test_first_takes_it_second_waits_naming_the_holder(
        self, dest: MemoryDestination, clock: Clock
    ) -> None:
        a, b = lease(dest, "host-a:/etc/a.toml", clock), lease(dest, "host-b:/etc/b.toml", clock)
        assert a.try_acquire() is None
        assert a.held
        holder = b.try_acquire()
        assert holder is not None
        assert holder.owner == "host-a:/etc/a.toml"
        assert "host-a:/etc/a.toml (pid " in holder.describe()
        assert not b.held

    def test_object_names_owner_and_expiry(self, dest: MemoryDestination, clock: Clock) -> None:
        lease(dest, "a", clock).try_acquire()
        raw = json.loads(dest.read_tag(LEASE_KEY)[0])
        assert raw["owner"] == "a"
        assert raw["expires"] == pytest.approx(clock.wall() + 30.0)

    def test_the_same_owner_takes_it_back_at_once(
        self, dest: MemoryDestination, clock: Clock
    ) -> None:
        assert lease(dest, "a", clock).try_acquire() is None  # then the process is killed
        assert lease(dest, "a", clock).try_acquire() is None  # its restart

    def test_unchanged_for_ttl_by_the_standbys_clock_is_expired(
        self, dest: MemoryDestination, clock: Clock
    ) -> None:
        a, b = lease(dest, "a", clock), lease(dest, "b", clock)
        a.try_acquire()
        # The holder's clock runs far ahead: its `expires` says nothing useful.
        _, tag = dest.read_tag(LEASE_KEY)
        far = json.dumps({"owner": "a", "pid": 1, "expires": clock.wall() + 1e6}).encode()
        dest.put_if(LEASE_KEY, far, tag=tag)
        assert b.try_acquire() is not None
        clock.now += 29
        assert b.try_acquire() is not None
        clock.now += 1
        assert b.try_acquire() is None

    def test_a_renewed_lease_is_not_expired(self, dest: MemoryDestination, clock: Clock) -> None:
        a, b = lease(dest, "a", clock), lease(dest, "b", clock)
        a.try_acquire()
        for _ in range(10):
            assert b.try_acquire() is not None
            clock.now += 10
            assert a.renew() is None
        assert b.try_acquire() is not None

    def test_past_its_expiry_it_is_taken_at_once(
        self, dest: MemoryDestination, clock: Clock
    ) -> None:
        a, b = lease(dest, "a", clock), lease(dest, "b", clock)
        a.try_acquire()
        clock.now += 31
        assert b.try_acquire() is None
        assert "taken over by b" in (a.renew() or "")
        assert not a.held

    def test_released_it_is_taken_at_once(self, dest: MemoryDestination, clock: Clock) -> None:
        a, b = lease(dest, "a", clock), lease(dest, "b", clock)
        a.try_acquire()
        a.release()
        a.release()
        assert b.try_acquire() is None

    def test_garbage_is_taken_over(self, dest: MemoryDestination, clock: Clock) -> None:
        dest.put_if(LEASE_KEY, b"not json", tag=None)
        assert lease(dest, "a", clock).try_acquire() is None
        assert Holder.parse(b"{}") is None

    def test_standby_retries_at_the_expiry_or_a_third_of_ttl(
        self, dest: MemoryDestination, clock: Clock
    ) -> None:
        a, b = lease(dest, "a", clock), lease(dest, "b", clock)
        a.try_acquire()
        b.try_acquire()
        assert b.retry_in() == pytest.approx(10.0)
        clock.now += 25
        assert b.retry_in() == pytest.approx(5.05)


class TestRenew:
    """A holder keeps it by renewing, and stops when it cannot."""

    def test_a_short_outage_is_ridden_out_a_long_one_lapses(
        self, dest: MemoryDestination, clock: Clock
    ) -> None:
        a = lease(dest, "a", clock)
        a.try_acquire()
        dest.fail(
            "put_if", DestinationError("put", "memory://lease", "down", retryable=True), times=5
        )
        clock.now += 10
        assert a.renew() is None
        assert a.held
        clock.now += 20
        reason = a.renew()
        assert reason is not None
        assert "lease lapsed" in reason
        assert not a.held


class TestKeeper:
    """One thread renews every lease, and says when one is lost."""

    def test_renews_until_dropped(self, dest: MemoryDestination) -> None:
        cas = features_of(dest).conditional
        assert cas is not None
        held = Lease(cas, url=dest.url, owner="a", ttl=0.3)
        assert held.try_acquire() is None
        keeper = LeaseKeeper()
        try:
            keeper.keep(held, on_lost=lambda reason: None)
            deadline = time.monotonic() + 10
            while dest.calls.get("put_if", 0) < 4:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            keeper.drop(held)
        finally:
            keeper.close()
        assert Lease(cas, url=dest.url, owner="b", ttl=0.3).try_acquire() is None  # released

    def test_a_lost_lease_is_told(self, dest: MemoryDestination) -> None:
        cas = features_of(dest).conditional
        assert cas is not None
        held = Lease(cas, url=dest.url, owner="a", ttl=0.3)
        held.try_acquire()
        lost: list[str] = []
        told = threading.Event()
        keeper = LeaseKeeper()
        try:
            keeper.keep(held, on_lost=lambda reason: (lost.append(reason), told.set()))
            _, tag = cas.read_tag(LEASE_KEY)
            cas.put_if(LEASE_KEY, b'{"owner": "thief", "pid": 7, "expires": 0}', tag=tag)
            assert told.wait(10)
        finally:
            keeper.close()
        assert lost == ["memory://lease: lease taken over by thief (pid 7)"]

    def test_leases_due_soon_are_renewed_together(self, dest: MemoryDestination) -> None:
        cas = features_of(dest).conditional
        assert cas is not None
        now = [100.0]
        keeper = LeaseKeeper(clock=lambda: now[0])
        leases = [Lease(cas, url=dest.url, owner=f"o{n}", ttl=60.0) for n in range(3)]
        for n, each in enumerate(leases):  # due at 120, 125 and 140 (a sixth of 60 is 10)
            entry = _Kept(each, lambda reason: None, 120.0 + (0, 5, 20)[n])
            keeper._kept[id(each)] = entry
            heapq.heappush(keeper._heap, (entry.due, n, entry))
        now[0] = 120.0
        with keeper._cond:
            due = keeper._next_due()
        assert [entry.lease for entry in due] == leases[:2]
        keeper.close()

    def test_close_without_leases(self) -> None:
        keeper = LeaseKeeper()
        keeper.close()
        keeper.close()


class TestLocalDestination:
    """On a local DEST, two destinations (as two processes) share the lease."""

    def test_two_opens_of_one_directory(self, tmp_path: Path, clock: Clock) -> None:
        with LocalDestination(tmp_path / "d") as one, LocalDestination(tmp_path / "d") as two:
            a, b = lease(one, "a", clock), lease(two, "b", clock)
            assert a.try_acquire() is None
            holder = b.try_acquire()
            assert holder is not None
            assert holder.owner == "a"
            assert list(one.list()) == []
            assert (tmp_path / "d" / LEASE_KEY).is_file()
