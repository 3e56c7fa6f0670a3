"""Prometheus metrics of a running daemon, every series labelled by `policy`.

Two sources, each read the cheapest way:

- Counters and histograms (files, bytes and errors, replication lag, reconcile duration) are fed
  from the daemon's event stream by one thread that long-polls `Control.events`: it sleeps in
  that call while nothing happens, so an idle daemon is not woken for metrics.
- Gauges (pending changes, destination up, last reconcile, overflows, inotify watches) are read
  from `Control.status()` when a scrape asks for them, by a custom collector: nothing is kept
  up to date between scrapes.

The metrics live in a registry of their own (never prometheus_client's global one), so two
daemons in one process (tests) or a library user's own metrics never mix with them. `render`
gives the exposition for the API's `GET /metrics`; `metrics_server.MetricsServer` serves the
same on the config's `metrics = "host:port"` address. `METRICS` lists every family (docs/daemon.md
shows it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, choose_encoder, generate_latest
from prometheus_client.process_collector import ProcessCollector

from fsreplica.daemon.control import Event, PolicyState

if TYPE_CHECKING:
    from fsreplica.daemon.control import Control, PolicyStatus

log = logging.getLogger(__name__)

OPERATIONS = ("put", "delete", "rename")
"""The values of the `op` label."""

ERROR_KINDS = ("failed", "refused")
"""The values of the `kind` label of `fsreplica_errors_total`: a path that could not be
replicated, and deletions the guard refused."""

LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
RECONCILE_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)

EVENT_POLL = 300.0
"""Seconds one long poll of the event stream waits before asking again (idle: one wake-up)."""

EVENT_PAGE = 1000

METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("fsreplica_replicated_files_total", "counter", "policy, op", "Files replicated, by "
     "operation (put, delete, rename)."),
    ("fsreplica_replicated_bytes_total", "counter", "policy, op", "Bytes written to the "
     "destination, by operation."),
    ("fsreplica_errors_total", "counter", "policy, kind", "Errors: paths that failed "
     "(`failed`), deletions the guard refused (`refused`)."),
    ("fsreplica_replication_lag_seconds", "histogram", "policy", "From the change on disk to "
     "the destination write, for each put and delete."),
    ("fsreplica_reconcile_duration_seconds", "histogram", "policy", "How long each full "
     "reconcile took."),
    ("fsreplica_pending_changes", "gauge", "policy", "Changes seen and not yet at the "
     "destination."),
    ("fsreplica_oldest_pending_change_seconds", "gauge", "policy", "Age of the oldest pending "
     "change (0 when none)."),
    ("fsreplica_failing_paths", "gauge", "policy", "Paths failing now."),
    ("fsreplica_last_reconcile_timestamp_seconds", "gauge", "policy", "When the last reconcile "
     "finished (Unix time); absent before the first."),
    ("fsreplica_destination_up", "gauge", "policy", "1 while the destination is reachable, 0 "
     "while it is down."),
    ("fsreplica_policy_state", "gauge", "policy, state", "1 for the state the policy is in, 0 "
     "for the others."),
    ("fsreplica_watcher_overflows_total", "counter", "policy", "Times the watcher's queue "
     "overflowed (each followed by a rescan)."),
    ("fsreplica_inotify_watches", "gauge", "", "inotify watches the daemon holds (shared by "
     "policies with the same source)."),
    ("fsreplica_inotify_watch_limit", "gauge", "", "The system's limit "
     "(fs.inotify.max_user_watches)."),
    ("fsreplica_ready", "gauge", "", "1 once every enabled policy has finished its first "
     "reconcile and is live."),
    ("fsreplica_events_lost_total", "counter", "", "Events the metrics missed (the event "
     "buffer overflowed between two reads): the counters above undercount by as many."),
    ("process_*", "", "", "The daemon process: CPU seconds, resident memory, open fds, start "
     "time (prometheus_client's process collector)."),
)  # fmt: skip
"""Every metric family: name, type, labels, meaning."""

_STATES: tuple[str, ...] = get_args(PolicyState)


class DaemonMetrics:
    """The metrics of one daemon, in a registry of their own.

    Args:
        control: The daemon whose events and status are shown.
        process: Include the process collector (CPU, memory, fds of this process).

    Use `start()` once the control answers (it starts the event thread) and `stop()` at the end.
    """

    def __init__(self, control: Control, *, process: bool = True) -> None:
        self.control = control
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # First: its scrape creates each policy's labelled series before the counters are read.
        r.register(_StatusCollector(self))
        self._files = Counter(
            "fsreplica_replicated_files", "Files replicated, by operation.",
            ["policy", "op"], registry=r,
        )  # fmt: skip
        self._bytes = Counter(
            "fsreplica_replicated_bytes", "Bytes written to the destination, by operation.",
            ["policy", "op"], registry=r,
        )  # fmt: skip
        self._errors = Counter(
            "fsreplica_errors", "Paths that failed (failed) and deletions refused (refused).",
            ["policy", "kind"], registry=r,
        )  # fmt: skip
        self._lag = Histogram(
            "fsreplica_replication_lag_seconds", "From the change on disk to the destination "
            "write.", ["policy"], buckets=LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self._reconcile = Histogram(
            "fsreplica_reconcile_duration_seconds", "How long each full reconcile took.",
            ["policy"], buckets=RECONCILE_BUCKETS, registry=r,
        )  # fmt: skip
        self._lost = Counter(
            "fsreplica_events_lost",
            "Events the metrics missed (event buffer overflow).",
            registry=r,
        )
        if process:
            ProcessCollector(registry=r)
        self._lock = threading.Lock()
        self._known: set[str] = set()  # policies whose labelled series exist
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.since = 0  # the last event id counted

    # -- the event thread --------------------------------------------------------------------

    def start(self) -> None:
        """Start counting events (from the first the daemon still has)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._follow, name="fsreplica-metrics", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop counting; idempotent.

        The thread is in a long poll of `Control.events`, which only the daemon can end (it
        does when it stops); a thread still waiting after `timeout` is left to die with the
        process (it is a daemon thread and holds nothing).
        """
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _follow(self) -> None:
        while not self._stopping.is_set():
            asked = time.monotonic()
            try:
                page = self.control.events(self.since, timeout=EVENT_POLL, limit=EVENT_PAGE)
            except Exception as exc:  # the daemon is stopping, or a bug: never kill the daemon
                if not self._stopping.is_set():
                    log.warning("metrics: reading events failed: %s", exc)
                    self._stopping.wait(1.0)
                continue
            if not page.events and time.monotonic() - asked < EVENT_POLL / 2:
                self._stopping.wait(1.0)  # ended early with nothing: the daemon is closing
            self.count(page.events, first=page.first)
            self.since = max(self.since, page.next)

    def count(self, events: tuple[Event, ...] | list[Event], *, first: int | None = None) -> None:
        """Count `events` (those after `since`); `first` is the oldest the daemon still has."""
        if first is not None and first - 1 > self.since and events:
            self._lost.inc(first - 1 - self.since)
        for event in events:
            if event.id <= self.since:
                continue
            self.since = event.id
            self._count_one(event)

    def _count_one(self, event: Event) -> None:
        policy = event.policy
        if policy is None:
            return
        kind = event.kind
        if kind == "policy-removed":
            self._forget(policy)
            return
        self._ensure(policy)
        if kind in OPERATIONS:
            self._files.labels(policy, kind).inc()
            if event.bytes:
                self._bytes.labels(policy, kind).inc(event.bytes)
            if event.lag is not None and event.lag >= 0:
                self._lag.labels(policy).observe(event.lag)
        elif kind in ERROR_KINDS:
            self._errors.labels(policy, kind).inc()
        elif kind == "reconciled" and event.duration is not None and event.duration >= 0:
            self._reconcile.labels(policy).observe(event.duration)

    def _ensure(self, policy: str) -> None:
        """Create a policy's labelled series at zero, so each shows before its first event."""
        with self._lock:
            if policy in self._known:
                return
            self._known.add(policy)
        for op in OPERATIONS:
            self._files.labels(policy, op)
            self._bytes.labels(policy, op)
        for kind in ERROR_KINDS:
            self._errors.labels(policy, kind)
        self._lag.labels(policy)
        self._reconcile.labels(policy)

    def _forget(self, policy: str) -> None:
        """Drop a removed policy's series (a policy added again starts from zero)."""
        with self._lock:
            if policy not in self._known:
                return
            self._known.discard(policy)
        for op in OPERATIONS:
            self._files.remove(policy, op)
            self._bytes.remove(policy, op)
        for kind in ERROR_KINDS:
            self._errors.remove(policy, kind)
        self._lag.remove(policy)
        self._reconcile.remove(policy)

    # -- exposition ----------------------------------------------------------------------------

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format (or OpenMetrics when `accept` asks for it).

        Returns:
            (body, content type), as the API's `GET /metrics` serves them.
        """
        if accept:
            encoder, content_type = choose_encoder(accept)
            return encoder(self.registry), content_type
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StatusCollector:
    """The gauges, read from `Control.status()` at each scrape."""

    def __init__(self, metrics: DaemonMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Metric]:
        # Described empty, so registering needs no status (the daemon may not answer yet).
        return []

    def collect(self) -> Iterator[Metric]:
        status = self.metrics.control.status()
        by_policy = {name: cls(name, doc, labels=["policy"]) for name, cls, doc in _POLICY_FAMILIES}
        state = GaugeMetricFamily(
            "fsreplica_policy_state", "1 for the state the policy is in.",
            labels=["policy", "state"],
        )  # fmt: skip
        for each in status.policies:
            self.metrics._ensure(each.id)
            labels = [each.id]
            for name, value in _policy_values(each):
                if value is not None:
                    by_policy[name].add_metric(labels, value)
            for name in _STATES:
                state.add_metric([each.id, name], int(each.state == name))
        yield from by_policy.values()
        yield state
        yield GaugeMetricFamily(
            "fsreplica_inotify_watches", "inotify watches the daemon holds.", value=status.watches
        )
        if status.watch_limit is not None:
            yield GaugeMetricFamily(
                "fsreplica_inotify_watch_limit",
                "The system's limit on inotify watches.",
                value=status.watch_limit,
            )
        yield GaugeMetricFamily(
            "fsreplica_ready", "1 once every enabled policy is live.", value=int(status.ready)
        )


_POLICY_FAMILIES: tuple[tuple[str, type[GaugeMetricFamily | CounterMetricFamily], str], ...] = (
    ("fsreplica_pending_changes", GaugeMetricFamily, "Changes seen, not yet at the destination."),
    ("fsreplica_oldest_pending_change_seconds", GaugeMetricFamily, "Age of the oldest pending."),
    ("fsreplica_failing_paths", GaugeMetricFamily, "Paths failing now."),
    ("fsreplica_last_reconcile_timestamp_seconds", GaugeMetricFamily, "When the last reconcile "
     "finished (Unix time)."),
    ("fsreplica_destination_up", GaugeMetricFamily, "1 while the destination is reachable."),
    ("fsreplica_watcher_overflows", CounterMetricFamily, "Times the watcher's queue overflowed."),
)  # fmt: skip


def _policy_values(each: PolicyStatus) -> Iterator[tuple[str, float | None]]:
    """The value of each of `_POLICY_FAMILIES` for one policy (None: no sample)."""
    yield "fsreplica_pending_changes", each.pending
    yield "fsreplica_oldest_pending_change_seconds", each.lag
    yield "fsreplica_failing_paths", each.failures
    yield "fsreplica_last_reconcile_timestamp_seconds", each.last_reconcile
    yield "fsreplica_destination_up", int(each.destination_up)
    yield "fsreplica_watcher_overflows", each.overflows
