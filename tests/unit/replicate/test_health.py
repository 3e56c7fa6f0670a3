"""The destination's health: two log lines per outage, on a fake clock."""

from __future__ import annotations

import logging

import pytest

from fsreplica.errors import DestinationError
from fsreplica.replicate.health import DestinationHealth

REFUSED = DestinationError("put", "s3://b/p/k", "connection refused", retryable=True)


class Clock:
    """A monotonic clock moved by the test."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_outage_is_two_lines_whatever_the_number_of_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    changes: list[bool] = []
    health = DestinationHealth(
        "s3://b/p",
        logger=logging.getLogger("fsreplica.test"),
        waiting=lambda: 12,
        on_change=changes.append,
        clock=clock,
    )
    health.succeeded()  # nothing to say while up
    for _ in range(50):
        health.failed(REFUSED)
    assert health.down
    clock.now += 21.25
    for _ in range(5):
        health.succeeded()
    assert not health.down
    assert [r.getMessage() for r in caplog.records] == [
        "destination s3://b/p unavailable: connection refused; 12 changes waiting, "
        "retrying until it clears",
        "destination s3://b/p available again after 21.2 s (connection refused); "
        "12 changes waiting",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert changes == [True, False]


def test_an_operation_begun_before_the_outage_was_seen_does_not_end_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another worker's copy, in flight when the disk filled, succeeds: still the same outage."""
    clock = Clock()
    health = DestinationHealth("/dst", logger=logging.getLogger("fsreplica.test"), clock=clock)
    in_flight = clock.now
    clock.now += 0.5
    health.failed(REFUSED, since=clock.now - 0.1)
    health.succeeded(started=in_flight)
    assert health.down
    health.failed(REFUSED)
    clock.now += 2.0
    health.succeeded(started=clock.now - 0.01)  # a probe made after it was seen
    assert not health.down
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "destination /dst unavailable",
        "destination /dst available again after 2.1 s (connection refused); 0 changes waiting",
    ]
