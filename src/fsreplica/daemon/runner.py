"""One policy of the daemon: a Replicator running `run()` in a thread of its own.

A policy that cannot run (its state file is in use, its destination refuses it, a thread of its
replicator stopped on a bug) is "failed" with the one-line cause: the other policies and the
daemon go on. A source that is away is waited for ("source-gone"); a destination that cannot be
reached is tried again ("destination-down").
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from fsreplica._names import one_line
from fsreplica.crypt._apply import apply_encryption
from fsreplica.daemon.control import EventKind, Failure, Policy, PolicyState, PolicyStatus
from fsreplica.daemon.eventlog import EventLog
from fsreplica.daemon.lease import Lease
from fsreplica.daemon.standby import RETRY_OPEN, Leases, acquire
from fsreplica.daemon.summary import StateSummary, SummaryReader
from fsreplica.daemon.watchhub import HubRegistry
from fsreplica.destinations import features_of, open_destination, parse_location
from fsreplica.errors import (
    DestinationError,
    FsreplicaError,
    InternalError,
    PolicyConflict,
    RootLost,
)
from fsreplica.replicate import Replicator, SyncReport
from fsreplica.replicate.engine import default_transfers
from fsreplica.replicate.observe import Change, ChangeKind
from fsreplica.replicate.reconcile import check_overlap

CATCHING_UP = 1000
"""Pending changes above which a live policy is "catching-up"."""
S3_RETRY_TIMEOUT = 4.0
"""How long an S3 request is retried before the replicator sees it fail (as `replicate`)."""
FAILING_SHOWN = 5
"""Failing paths listed in a status."""

_EVENT_KINDS: dict[ChangeKind, EventKind] = {
    "put": "put",
    "delete": "delete",
    "rename": "rename",
    "failed": "failed",
    "refused": "refused",
    "reconciled": "reconciled",
}
_DONE = frozenset({"put", "delete", "rename", "failed", "refused"})
"""Changes after which the worker reads the state's summary again (once a second)."""
_STATE_CHANGES: dict[ChangeKind, PolicyState] = {
    "destination-down": "destination-down",
    "destination-up": "live",
    "source-gone": "source-gone",
    "source-back": "reconciling",
}
"""Changes of a replicator that are changes of its policy's state (a "state" event)."""


def policy_logger(policy_id: str) -> logging.Logger:
    """A logger whose lines start with `policy ID: `, handled by the "fsreplica" logger's."""
    logger = logging.Logger(f"fsreplica.policy.{policy_id}")
    logger.parent = logging.getLogger("fsreplica")
    prefix = f"policy {policy_id}: "

    def named(record: logging.LogRecord) -> bool:
        record.msg = prefix + str(record.msg)
        return True

    logger.addFilter(named)
    return logger


class PolicyRunner:
    """Runs one policy until `stop()`; thread-safe.

    Args:
        policy: The policy (enabled).
        events: Where its puts, deletes, failures and state changes are told.
        hubs: The daemon's shared watchers, by source (None: a watcher of its own).
        leases: The daemon's lease settings and keeper: a destination with conditional writes
            is written only while this daemon holds its lease (None: no lease).
        reader: The daemon's reader of stale status figures (None: status reads them).
        clock: Wall clock.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        events: EventLog,
        hubs: HubRegistry | None = None,
        leases: Leases | None = None,
        reader: SummaryReader | None = None,
        clock: Any = time.time,
    ) -> None:
        self.policy = policy
        self._hubs = hubs
        self._leases = leases
        self._lease: Lease | None = None
        self._lease_lost: str | None = None  # why the lease was lost while replicating
        self._events = events
        self._clock = clock
        self.log = policy_logger(policy.id)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._replicator: Replicator | None = None
        self._waiting: Any = None  # a DirectoryWait for the source, when it is away at start
        self._phase: PolicyState = "starting"
        self._detail: str | None = None
        self._live = False  # the first reconcile is done
        self._files = self._bytes = self._deletes = 0
        self._last_reconcile: float | None = None
        self._last_result: str | None = None
        self._summary = StateSummary(shown=FAILING_SHOWN, reader=reader)
        self._thread = threading.Thread(
            target=self._main, name=f"fsreplica-policy-{policy.id}", daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start replicating in the policy's thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the policy to stop (in-flight copies finish); idempotent, any thread."""
        with self._lock:
            self._stop.set()
            replicator, waiting = self._replicator, self._waiting
            if waiting is not None:
                waiting.cancel()
            self._changed.notify_all()
        if replicator is not None:
            replicator.stop()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the policy's thread to end (after `stop()`)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)

    @property
    def watches(self) -> int:
        """The inotify watches the policy holds."""
        replicator = self._replicator
        return 0 if replicator is None else replicator.watches

    @property
    def ready(self) -> bool:
        """True once the first reconcile is done and the policy replicates live."""
        return self.status().state == "live"

    # -- the policy's thread -------------------------------------------------------------

    def _main(self) -> None:
        try:
            while not self._stop.is_set():
                if not os.path.isdir(self.policy.source):
                    self._wait_for_source()
                    continue
                replicator = self._open()
                if replicator is None:
                    continue
                # The replicator was given the destination, so it leaves it open: close it here
                # (its connections, its root's fd), or each restart of the policy leaks one.
                try:
                    with replicator:
                        if self._run(replicator):
                            return
                finally:
                    replicator.destination.close()
        except BaseException as exc:  # a bug here: this policy fails, never the daemon
            error = InternalError(threading.current_thread().name, exc)
            self.log.error("%s", error, exc_info=exc)
            self._fail(str(error))

    def _set(self, phase: PolicyState, detail: str | None = None) -> None:
        with self._lock:
            if (phase, detail) == (self._phase, self._detail):
                return
            self._phase, self._detail = phase, detail
            self._changed.notify_all()
        self._events.emit(
            "state", policy=self.policy.id, detail=phase + (f": {detail}" if detail else "")
        )

    def _fail(self, cause: str) -> None:
        self._set("failed", one_line(cause))

    def _wait_for_source(self) -> None:
        from fsreplica.watch.appear import DirectoryWait  # noqa: PLC0415 - Linux, rare

        self._set("source-gone", f"{self.policy.source}: no such directory")
        self.log.warning("%s is not a directory; waiting for it", self.policy.source)
        with DirectoryWait(self.policy.source) as waiting:
            with self._lock:
                if self._stop.is_set():
                    return
                self._waiting = waiting
            try:
                waiting.wait()
            finally:
                with self._lock:
                    self._waiting = None

    def _open(self) -> Replicator | None:
        """Open the destination and the replicator; None when it is to be tried again."""
        policy = self.policy
        self._set("starting")
        options: dict[str, Any] = {}
        location = parse_location(policy.destination)
        try:
            if location.path is not None:
                check_overlap(policy.source, location.path)  # before it is created
            if location.scheme == "s3":
                options["retry_timeout"] = S3_RETRY_TIMEOUT
            if policy.endpoint_url is not None:
                options["endpoint_url"] = policy.endpoint_url
            if policy.region is not None:
                options["region"] = policy.region
            raw = open_destination(policy.destination, **options)
            # The lease is the raw destination's (an encrypting wrapper writes its own objects).
            cas = features_of(raw).conditional
            destination = apply_encryption(
                raw,
                encrypt=policy.mode == "transparent",
                key_file=policy.key_file,
                interactive=False,
            )
        except DestinationError as exc:
            if not exc.retryable:
                self._fail(str(exc))
                self._stop.wait()  # until removed, changed or the daemon stops
                return None
            self._set("destination-down", one_line(str(exc)))
            self.log.warning("%s; trying again in %.0f s", exc, RETRY_OPEN)
            self._stop.wait(RETRY_OPEN)
            return None
        except (ImportError, ValueError, FsreplicaError) as exc:
            self._fail(str(exc))
            self._stop.wait()
            return None
        if self._leases is not None and cas is not None:
            lease = Lease(cas, url=raw.url, owner=self._leases.owner, ttl=self._leases.ttl)
            if not acquire(lease, stop=self._stop, state=self._set, fail=self._fail, log=self.log):
                destination.close()
                return None
            with self._lock:
                self._lease, self._lease_lost = lease, None
            self._leases.keeper.keep(lease, on_lost=self._on_lease_lost)
        try:
            return Replicator(
                policy.source,
                destination,
                state=policy.state,
                transfers=policy.transfers
                or default_transfers(local=location.path is not None, live=True),
                debounce=policy.debounce,
                exclude=policy.exclude,
                delete=policy.delete,
                max_delete=policy.max_delete,
                scan_interval=policy.scan_interval,
                links=policy.links,
                checksum=policy.checksum,
                wait_for_source=True,
                logger=self.log,
                observer=self._observe,
                watcher_factory=None if self._hubs is None else self._hubs.factory(policy.source),
            )
        except (ValueError, FsreplicaError) as exc:
            self._drop_lease()
            destination.close()
            self._fail(str(exc))
            self._stop.wait()
            return None

    def _on_lease_lost(self, reason: str) -> None:
        """The lease was taken over or lapsed (the keeper's thread): stop writing, stand by."""
        with self._lock:
            self._lease_lost = reason
            replicator = self._replicator
        self._set("standby", reason)
        if replicator is not None:
            replicator.stop()

    def _drop_lease(self) -> None:
        """Stop renewing the lease; give it up unless it was lost (a standby takes over)."""
        with self._lock:
            lease, lost = self._lease, self._lease_lost
            self._lease = None
        if lease is not None and self._leases is not None:
            self._leases.keeper.drop(lease, release=lost is None)

    def _run(self, replicator: Replicator) -> bool:  # noqa: PLR0911 - one return per outcome
        """Run the replicator until it stops; True when the policy is over."""
        with self._lock:
            if self._stop.is_set():
                return True
            if self._lease_lost is not None:
                return False  # lost before it could start: stand by again
            self._replicator = replicator
        self._summary.refresh(replicator.state, wait=True, older_than=0)  # a previous run's
        self._set("reconciling")
        try:
            replicator.run(on_ready=self._ready)
        except InternalError as exc:
            self.log.error("%s; this policy stopped, the others go on", exc)
            self._fail(str(exc))
            self._stop.wait()
            return True
        except (RootLost, FsreplicaError) as exc:
            if not os.path.isdir(self.policy.source) and not self._stop.is_set():
                return False  # gone before it could be watched: wait for it
            if self._stop.is_set():
                return True
            self.log.error("%s", exc)
            self._fail(str(exc))
            self._stop.wait()
            return True
        finally:
            with self._lock:
                self._replicator = None
                self._live = False
                self._changed.notify_all()
            self._drop_lease()
        return self._stop.is_set() or self._lease_lost is None

    def _ready(self, report: SyncReport) -> None:
        with self._lock:
            self._live = True
            self._last_reconcile = self._clock()
            self._last_result = report.summary()
            self._changed.notify_all()
        self.log.info("initial sync: %s; replicating live", report.summary())
        self._set("live")

    def _observe(self, change: Change) -> None:
        policy = self.policy.id
        kind = change.kind
        replicator = self._replicator
        if kind in _DONE and replicator is not None:
            self._summary.refresh(replicator.state)
        if kind in _STATE_CHANGES:
            state = _STATE_CHANGES[kind]
            detail = f"{state}: {change.detail}" if change.detail else state
            self._events.emit("state", policy=policy, detail=detail, when=change.time)
            return
        if kind == "put":
            with self._lock:
                self._files += 1
                self._bytes += change.bytes or 0
        elif kind == "delete":
            with self._lock:
                self._deletes += 1
        elif kind == "reconciled":
            with self._lock:
                if self._live:
                    self._last_reconcile = change.time
                    self._last_result = change.detail
            if replicator is not None:  # it settled failures no change tells of
                self._summary.refresh(replicator.state, wait=True, older_than=0)
        self._events.emit(
            _EVENT_KINDS[kind],
            policy=policy,
            path=change.key or None,
            detail=change.detail,
            bytes=change.bytes,
            lag=change.lag,
            duration=change.duration,
            when=change.time,
        )

    # -- what the manager asks -----------------------------------------------------------

    def resync(self) -> SyncReport:
        """Reconcile now (once live) and wait for its work; return what it did.

        Raises:
            PolicyConflict: The policy stopped (removed, changed, failed, the daemon stops).
            FsreplicaError: The reconcile could not run.
        """
        with self._lock:
            self._changed.wait_for(
                lambda: self._stop.is_set() or self._phase == "failed" or self._live
            )
            replicator = self._replicator
            if self._stop.is_set() or self._phase == "failed" or replicator is None:
                raise PolicyConflict(f"policy {self.policy.id!r} stopped", detail=self.policy.id)
        report = replicator.resync()
        if self._stop.is_set():
            raise PolicyConflict(f"policy {self.policy.id!r} stopped", detail=self.policy.id)
        with self._lock:
            self._last_reconcile = self._clock()
            self._last_result = report.summary()
        return report

    def status(self) -> PolicyStatus:
        """How the policy is doing now."""
        with self._lock:
            replicator = self._replicator
            phase, detail, live = self._phase, self._detail, self._live
            files, size, deletes = self._files, self._bytes, self._deletes
            last, result = self._last_reconcile, self._last_result
        pending, lag, up, overflows = 0, 0.0, True, 0
        failures, refused = 0, None
        failing: tuple[Failure, ...] = ()
        if replicator is not None:
            pending = replicator.pending
            up = replicator.destination_up
            overflows = replicator.overflows
            summary = self._summary.get(replicator.state)
            failures, refused = summary.failures, summary.refused
            failing = tuple(Failure(path=f.key, op=f.op, reason=f.reason) for f in summary.failing)
            if pending and summary.oldest_pending is not None:
                # As old as the summary (a second while workers finish changes): the oldest
                # change may have been done since, so the lag shown may be that much too long.
                lag = max(0.0, self._clock() - summary.oldest_pending)
            if phase not in ("failed",):
                if replicator.waiting_for_source:
                    phase, detail = "source-gone", f"{self.policy.source}: waiting for it"
                elif not up:
                    phase, detail = "destination-down", replicator.destination_problem
                elif refused:
                    phase, detail = "deletes-refused", refused
                elif live and pending > CATCHING_UP:
                    phase, detail = "catching-up", f"{pending} changes pending"
                elif live:
                    phase, detail = "live", None
        elif phase == "destination-down":
            up = False
        return PolicyStatus(
            id=self.policy.id,
            state=phase,
            detail=detail,
            pending=pending,
            lag=lag,
            files=files,
            bytes=size,
            deletes=deletes,
            failures=failures,
            failing=failing,
            last_reconcile=last,
            last_reconcile_result=result,
            destination_up=up,
            overflows=overflows,
        )
