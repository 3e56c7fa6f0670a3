"""The daemon's Prometheus metrics: counters from the event stream, gauges from the status."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from tests.unit.daemon.control_fake import FakeControl

from fsreplica.daemon import metrics as metrics_module
from fsreplica.daemon.control import Control
from fsreplica.daemon.metrics import DaemonMetrics
from fsreplica.daemon.metrics_server import MetricsServer, parse_address
from fsreplica.errors import ListenError


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by (name, sorted labels)."""
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(metrics: DaemonMetrics, name: str, **labels: str) -> float | None:
    return samples(metrics.render()[0]).get((name, tuple(sorted(labels.items()))))


def wait_for(condition, *, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.fixture
def control() -> Iterator[FakeControl]:
    fake = FakeControl("docs", "photos")
    yield fake
    fake.close()


@pytest.fixture
def metrics(control: FakeControl) -> Iterator[DaemonMetrics]:
    m = DaemonMetrics(control)
    yield m
    control.close()
    m.stop()


class TestSeries:
    """Every series is labelled by policy, and shows before its first event."""

    def test_the_fake_is_a_control(self, control: FakeControl) -> None:
        assert isinstance(control, object)
        _: Control = control  # checked by mypy on the test files too

    def test_each_policy_has_its_series_at_zero(self, metrics: DaemonMetrics) -> None:
        found = samples(metrics.render()[0])
        for policy in ("docs", "photos"):
            for op in ("put", "delete", "rename"):
                key = ("fsreplica_replicated_files_total", (("op", op), ("policy", policy)))
                assert found[key] == 0
            assert found[("fsreplica_pending_changes", (("policy", policy),))] == 0
            assert found[("fsreplica_destination_up", (("policy", policy),))] == 1
            assert found[("fsreplica_policy_state", (("policy", policy), ("state", "live")))] == 1
            assert found[("fsreplica_policy_state", (("policy", policy), ("state", "failed")))] == 0
        assert found[("fsreplica_inotify_watches", ())] == 7
        assert found[("fsreplica_inotify_watch_limit", ())] == 8192
        assert found[("fsreplica_ready", ())] == 1

    def test_gauges_read_the_status_at_each_scrape(
        self, control: FakeControl, metrics: DaemonMetrics
    ) -> None:
        control.set_status(
            "docs",
            state="destination-down",
            destination_up=False,
            pending=12,
            lag=3.5,
            failures=2,
            last_reconcile=1_700_000_000.0,
            overflows=1,
        )
        assert value(metrics, "fsreplica_destination_up", policy="docs") == 0
        assert value(metrics, "fsreplica_destination_up", policy="photos") == 1
        assert value(metrics, "fsreplica_pending_changes", policy="docs") == 12
        assert value(metrics, "fsreplica_oldest_pending_change_seconds", policy="docs") == 3.5
        assert value(metrics, "fsreplica_failing_paths", policy="docs") == 2
        assert value(metrics, "fsreplica_watcher_overflows_total", policy="docs") == 1
        assert (
            value(metrics, "fsreplica_last_reconcile_timestamp_seconds", policy="docs")
            == 1_700_000_000.0
        )
        assert value(metrics, "fsreplica_last_reconcile_timestamp_seconds", policy="photos") is None
        assert (
            value(metrics, "fsreplica_policy_state", policy="docs", state="destination-down") == 1
        )

    def test_own_registry_not_the_global_one(self, control: FakeControl) -> None:
        first, second = DaemonMetrics(control), DaemonMetrics(control)  # no duplicate error
        assert first.registry is not REGISTRY
        assert second.registry is not REGISTRY
        assert REGISTRY.get_sample_value("fsreplica_replicated_files_total") is None


class TestCounters:
    """Counters and histograms move with the events."""

    def test_operations_bytes_lag_errors_and_reconciles(
        self, control: FakeControl, metrics: DaemonMetrics
    ) -> None:
        control.emit("put", "docs", path="a", bytes=100, lag=0.02)
        control.emit("put", "docs", path="b", bytes=50, lag=0.3)
        control.emit("delete", "docs", path="c", lag=0.01)
        control.emit("rename", "photos", path="d", detail="e")
        control.emit("failed", "docs", path="x", detail="permission denied")
        control.emit("refused", "photos", detail="deletes refused")
        control.emit("reconciled", "docs", detail="3 copied", duration=1.5)
        metrics.count(control.events(0).events)
        v = value
        assert v(metrics, "fsreplica_replicated_files_total", policy="docs", op="put") == 2
        assert v(metrics, "fsreplica_replicated_bytes_total", policy="docs", op="put") == 150
        assert v(metrics, "fsreplica_replicated_files_total", policy="docs", op="delete") == 1
        assert v(metrics, "fsreplica_replicated_files_total", policy="photos", op="rename") == 1
        assert v(metrics, "fsreplica_replicated_files_total", policy="photos", op="put") == 0
        assert v(metrics, "fsreplica_errors_total", policy="docs", kind="failed") == 1
        assert v(metrics, "fsreplica_errors_total", policy="photos", kind="refused") == 1
        assert v(metrics, "fsreplica_replication_lag_seconds_count", policy="docs") == 3
        assert (
            v(metrics, "fsreplica_replication_lag_seconds_bucket", policy="docs", le="0.025") == 2
        )
        assert v(metrics, "fsreplica_reconcile_duration_seconds_sum", policy="docs") == 1.5

    def test_events_are_counted_once(self, control: FakeControl, metrics: DaemonMetrics) -> None:
        control.emit("put", "docs", bytes=1)
        page = control.events(0)
        metrics.count(page.events)
        metrics.count(page.events)
        assert value(metrics, "fsreplica_replicated_files_total", policy="docs", op="put") == 1

    def test_a_gap_is_counted_as_lost(self) -> None:
        control = FakeControl("docs", buffer=3)
        m = DaemonMetrics(control, process=False)
        for _ in range(10):
            control.emit("put", "docs", bytes=1)
        page = control.events(0)
        m.count(page.events, first=page.first)
        assert value(m, "fsreplica_events_lost_total") == 7
        assert value(m, "fsreplica_replicated_files_total", policy="docs", op="put") == 3

    def test_a_removed_policy_loses_its_series(
        self, control: FakeControl, metrics: DaemonMetrics
    ) -> None:
        control.emit("put", "photos", bytes=1)
        metrics.count(control.events(0).events)
        del control.statuses["photos"]
        control.emit("policy-removed", "photos")
        metrics.count(control.events(1).events)
        names = {labels for _, labels in samples(metrics.render()[0])}
        assert not any(("policy", "photos") in labels for labels in names)


class TestEventThread:
    """One thread follows the event stream with long polls."""

    def test_counts_events_as_they_come(self, control: FakeControl, metrics: DaemonMetrics) -> None:
        metrics.start()
        control.emit("put", "docs", bytes=10, lag=0.1)
        wait_for(
            lambda: (
                value(metrics, "fsreplica_replicated_bytes_total", policy="docs", op="put") == 10
            )
        )

    def test_idle_it_waits_in_one_long_poll(
        self, control: FakeControl, metrics: DaemonMetrics
    ) -> None:
        metrics.start()
        control.emit("put", "docs", bytes=1)
        wait_for(lambda: metrics.since == 1 and len(control.polls) >= 2)
        time.sleep(0.3)  # a window in which a timed loop would have polled again
        assert control.polls[-1] == metrics_module.EVENT_POLL
        assert len(control.polls) == 2

    def test_stop_returns_once_the_daemon_ends_the_poll(
        self, control: FakeControl, metrics: DaemonMetrics
    ) -> None:
        metrics.start()
        wait_for(lambda: len(control.polls) >= 1)
        control.close()
        metrics.stop()
        assert metrics._thread is not None
        assert not metrics._thread.is_alive()


class TestRender:
    """The exposition for the API, in either format."""

    def test_text_format(self, metrics: DaemonMetrics) -> None:
        body, content_type = metrics.render()
        assert content_type.startswith("text/plain; version=")
        assert b"# TYPE fsreplica_replicated_files_total counter" in body
        assert b"process_resident_memory_bytes" in body

    def test_openmetrics_when_asked(self, metrics: DaemonMetrics) -> None:
        body, content_type = metrics.render("application/openmetrics-text; version=1.0.0")
        assert content_type.startswith("application/openmetrics-text")
        assert body.endswith(b"# EOF\n")

    def test_every_family_is_documented(self, metrics: DaemonMetrics) -> None:
        listed = {name for name, *_ in metrics_module.METRICS}
        for family in text_string_to_metric_families(metrics.render()[0].decode()):
            name = family.name
            if name.startswith(("process_", "python_")) or name.endswith("_created"):
                continue
            suffixed = name + "_total" if family.type == "counter" else name
            assert suffixed in listed, name

    def test_every_family_is_in_the_operating_page(self) -> None:
        page = (Path(__file__).parents[3] / "docs" / "daemon.md").read_text()
        for name, *_ in metrics_module.METRICS:
            assert f"| `{name}` |" in page, name


class TestServer:
    """`GET /metrics` over TCP."""

    def test_scrape(self, metrics: DaemonMetrics) -> None:
        with MetricsServer("127.0.0.1:0", metrics.render) as server:
            server.start()
            host, port = parse_address(server.address)
            conn = http.client.HTTPConnection(host, port, timeout=10)
            try:
                conn.request("GET", "/metrics")
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200
                assert response.getheader("Content-Type", "").startswith("text/plain")
                assert b'fsreplica_pending_changes{policy="docs"} 0.0' in body
            finally:
                conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=10)
            try:
                conn.request("GET", "/nothing")
                response = conn.getresponse()
                response.read()
                assert response.status == 404
            finally:
                conn.close()

    def test_stop_is_idempotent_and_frees_the_port(self, metrics: DaemonMetrics) -> None:
        server = MetricsServer("127.0.0.1:0", metrics.render)
        server.start()
        address = server.address
        server.stop()
        server.stop()
        with MetricsServer(address, metrics.render) as again:
            assert again.address == address

    def test_address_in_use(self, metrics: DaemonMetrics) -> None:
        with MetricsServer("127.0.0.1:0", metrics.render) as server:
            with pytest.raises(ListenError) as raised:
                MetricsServer(server.address, metrics.render)
            assert str(raised.value) == f"listen {server.address}: address already in use"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:80", ("::1", 80))],
    )
    def test_parse_address(self, text: str, expected: tuple[str, int]) -> None:
        assert parse_address(text) == expected

    @pytest.mark.parametrize("text", ["9464", ":9464", "host:", "host:0x1", "host:70000"])
    def test_bad_address(self, text: str) -> None:
        with pytest.raises(ValueError, match="not host:port"):
            parse_address(text)
