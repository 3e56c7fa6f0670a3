"""The Replicator: one-shot sync, or a reconcile followed by real-time replication."""

from __future__ import annotations

import dataclasses
import errno
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from fsreplica.config import DEFAULT_DEBOUNCE_DELAY, WatcherConfig
from fsreplica.destinations import (
    Destination,
    ObjectInfo,
    check_key,
    features_of,
    open_destination,
)
from fsreplica.errors import InternalError, ReconcileError, RootLost, WatcherError, WatcherStopped
from fsreplica.events import FileSystemEvent
from fsreplica.filters import DEFAULT_IGNORE, IgnoreRules, ignore_patterns
from fsreplica.replicate.apply import Applier
from fsreplica.replicate.backoff import Backoff
from fsreplica.replicate.engine import DEFAULT_MAX_BATCH, DEFAULT_TRANSFERS, Engine, Task
from fsreplica.replicate.guard import DeleteGuard
from fsreplica.replicate.health import DestinationHealth
from fsreplica.replicate.journal import Journal
from fsreplica.replicate.march import Check, Plan, march
from fsreplica.replicate.observe import Change, ChangeKind, Observer
from fsreplica.replicate.outcomes import Outcomes
from fsreplica.replicate.reconcile import (
    SourceTree,
    check_overlap,
    listing_of,
    log_plan,
    scan_source,
    source_has,
)
from fsreplica.replicate.report import Report, SyncReport
from fsreplica.replicate.state import State, default_state_path
from fsreplica.watch import Watcher

if TYPE_CHECKING:
    from fsreplica.watch.appear import DirectoryWait

DEFAULT_SCAN_INTERVAL = 3600.0
"""Seconds between full reconciles while replicating in real time."""
PROBE_INTERVAL = 2.0
"""Seconds between tries of a destination that is down, while replicating in real time."""
RECHECK_FIRST = 2.0
"""Seconds before a file parked as failed is first tried again, while replicating in real time."""
RECHECK_MAX = 60.0
"""Longest time between two tries of a parked file (and never longer than the scan interval)."""
QUEUE_AHEAD = 4096
"""Tasks a reconcile queues ahead of the workers at most: it walks on once half are taken."""


def _max_batch(transfers: int) -> int:
    """Return the most tasks per batch for `transfers` workers.

    A staged file holds two descriptors until its batch is published: keep all workers' staged
    files within a quarter of the open-file limit (1024 on many systems).
    """
    try:
        import resource  # noqa: PLC0415 - POSIX only

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            return DEFAULT_MAX_BATCH
    except (ImportError, OSError, ValueError):
        soft = 1024
    return max(1, min(DEFAULT_MAX_BATCH, soft // 4 // transfers // 2))


class Replicator:
    """Mirror a local directory to a destination.

    Args:
        source: The directory to replicate.
        destination: A Destination, or a URL or path for `open_destination`.
        state: A State, a path for one, or None for the default one of this SRC/DEST pair.
        transfers: Parallel copies.
        debounce: Coalescing window of the watcher, in seconds.
        exclude: Glob patterns ignored on top of the defaults.
        default_excludes: Also ignore `DEFAULT_IGNORE`.
        delete: Propagate deletions.
        max_delete: Deletions a reconcile may do; None for the default guard (refuse when the
            source is empty or more than half of the destination would go); -1 for no limit.
        scan_interval: Seconds between full reconciles in `run()`.
        links: Copy symlinks as symlinks (never followed), at each reconcile; needs a
            destination with the "put_link" capability.
        checksum: At each reconcile, compare the content of every file on both sides (the
            destination's read and hashed where it can be, else its recorded SHA-256) and copy
            again each one that differs, as rsync's and rclone's `--checksum`.
        wait_for_source: When the source is deleted, moved away or unmounted during `run()`,
            wait for it to return, then reconcile and go on; by default `run()` raises
            `RootLost`.
        logger: Where to log; default `logging.getLogger("fsreplica")`.
        observer: Told of each put, delete, rename, failure and refusal, and of the end of each
            reconcile's walk (see `Change`); called in the thread that did it, so quick.
        watcher_factory: Makes the watcher of `run()` from its settings (default `Watcher`): a
            daemon hands out views of one watcher shared by the policies of a source.

    Raises:
        ReconcileError: The source is inside the destination or the other way round.
        StateError: The state file cannot be opened or is in use.

    A destination that fails for a reason that may pass (unreachable, full, read-only) is logged
    once when that starts, with the number of changes waiting, and once when it is over.

    Example:
        >>> import fsreplica, tempfile, pathlib
        >>> src, dst, tmp = tempfile.mkdtemp(), tempfile.mkdtemp(), tempfile.mkdtemp()
        >>> _ = pathlib.Path(src, "a.txt").write_text("hi")
        >>> with fsreplica.Replicator(src, dst, state=f"{tmp}/state.db") as replicator:
        ...     report = replicator.sync_all()
        >>> report.files_copied, pathlib.Path(dst, "a.txt").read_text()
        (1, 'hi')
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        destination: Destination | str | os.PathLike[str],
        *,
        state: State | str | os.PathLike[str] | None = None,
        transfers: int = DEFAULT_TRANSFERS,
        debounce: float = DEFAULT_DEBOUNCE_DELAY,
        exclude: Sequence[str] = (),
        default_excludes: bool = True,
        delete: bool = True,
        max_delete: int | None = None,
        scan_interval: float = DEFAULT_SCAN_INTERVAL,
        links: bool = False,
        checksum: bool = False,
        wait_for_source: bool = False,
        logger: logging.Logger | None = None,
        observer: Observer | None = None,
        watcher_factory: Callable[[WatcherConfig], Watcher] | None = None,
    ) -> None:
        self.source = os.path.abspath(os.fspath(source))
        if isinstance(destination, (str, os.PathLike)):
            self.destination: Destination = open_destination(destination)
            self._owns_destination = True
        else:
            self.destination = destination
            self._owns_destination = False
        self._features = features_of(self.destination)
        self.log = logger or logging.getLogger("fsreplica")
        self.ignore = ignore_patterns(exclude, default_excludes=default_excludes)
        self.rules = IgnoreRules(self.ignore)
        # Told apart so that what they leave out can be counted and shown (it surprises people).
        self.default_rules = IgnoreRules(DEFAULT_IGNORE) if default_excludes else None
        self.delete = delete
        self.max_delete = max_delete
        self.debounce = debounce
        self.scan_interval = scan_interval
        self.links = links
        self.checksum = checksum
        self.wait_for_source = wait_for_source
        self.observer = observer
        self._new_watcher = watcher_factory or Watcher
        try:
            if links and self._features.links is None:
                raise ValueError(
                    f"--links: only for local destinations ({self.destination.url} cannot "
                    "store symlinks)"
                )
            check_overlap(self.source, self.destination)
            if isinstance(state, State):
                self.state, self._owns_state = state, False
            else:
                path = state or default_state_path(self.source, self.destination.url)
                self.state, self._owns_state = State(path), True
        except BaseException:
            self._close_destination()
            raise
        self.journal = Journal(self.state)
        self._outcomes = Outcomes(self.state, self.journal)
        self._report = Report()
        self._guard = DeleteGuard(self.source, max_delete=max_delete)
        self._health = DestinationHealth(self.destination.url, logger=self.log)
        self._live = False  # replicating in real time (run()): parked keys are checked again
        self._applier = Applier(
            self.source,
            self.destination,
            self.state,
            outcomes=self._outcomes,
            report=self._report,
            guard=self._guard,
            delete=delete,
            links=links,
            logger=self.log,
            health=self._health,
            parked=self._recheck_later,
            follow=self._follow,
            features=self._features,
            observer=observer,
        )
        self._engine = Engine(
            self._applier,
            give_up=self._applier.give_up,
            apply_batch=self._applier.batch,
            max_batch=_max_batch(transfers),
            transfers=transfers,
            on_failure=self._fail,
        )
        self._health.waiting = self._engine.backlog
        self._health.on_change = self._outage
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watcher: Watcher | None = None
        self._failure: InternalError | None = None
        self._lost: RootLost | None = None  # why run() stopped on its own
        self._waiting: DirectoryWait | None = None  # for the source to return
        self._reconciling = threading.Lock()  # the periodic one, and one after the source returns
        self._syncing = False  # sync_all runs
        self._interrupted = threading.Event()  # the sync under way is to end early
        self._closed = False
        self.state.set_meta(source=self.source, destination=self.destination.url)

    # -- one-shot --------------------------------------------------------------------------

    def plan(self) -> Plan:
        """Return what a reconcile would do, changing nothing (every task held in the plan).

        Raises:
            ReconcileError: The source is missing or unreadable.
        """
        # Tens of thousands of short-lived objects, none in a cycle: the collector would only
        # walk them again and again. Re-enabled once they are freed, so it has nothing to do.
        collecting = gc.isenabled()
        gc.disable()
        try:
            plan = self._march(submit=None)
        finally:
            if collecting:
                gc.enable()
        self._check_device(plan)
        return plan

    def _march(
        self,
        *,
        submit: Callable[[list[Task]], None] | None,
        stopped: Callable[[], bool] | None = None,
    ) -> Plan:
        """Walk the source, the destination and the state side by side (see `march`).

        Both sides are walked every time, as rsync does: a file changed or removed at the
        destination behind our back is found and repaired.
        """
        check: Check | None = None
        if self.checksum:
            from fsreplica.replicate.checksum import by_content  # noqa: PLC0415 - hashes: only with --checksum

            def check(
                part: Plan, files: dict[str, os.stat_result], listing: dict[str, ObjectInfo]
            ) -> None:
                by_content(part, self.source, files, listing, self.destination)

        tree = SourceTree()
        # The listing first: an S3 listing starts fetching its pages as soon as it is asked for.
        listing = listing_of(self.destination, self._features, links=self.links)
        return march(
            scan_source(
                self.source, self.rules, tree=tree, links=self.links, defaults=self.default_rules
            ),
            listing,
            self.state.iter_files(),
            tree=tree,
            rules=self.rules,
            delete=self.delete,
            max_delete=self.max_delete,
            present=source_has(self.source, links=self.links),
            links=self.links,
            submit=submit,
            check=check,
            stopped=stopped,
        )

    def _check_device(self, plan: Plan) -> None:
        """Refuse deletions when the source is now another filesystem (unmounted?)."""
        dev = str(os.stat(self.source).st_dev)
        known = self.state.get_meta("source_dev")
        if plan.deletes and (refused := self._guard.moved(recorded=known, device=dev)):
            plan.refused = refused
            plan.deletes = []
        if known is None or (known != dev and plan.refused is None):
            self.state.set_meta(source_dev=dev)

    def reconcile(self, plan: Plan | None = None) -> Plan:
        """Walk the three sides and queue the work as it is found; return the plan.

        The engine copies while the walk goes on; deletions are queued at the end, once the
        guard has seen the whole destination.

        Args:
            plan: A plan just made by `plan()`, to queue instead of walking again.

        Raises:
            ReconcileError: The source is missing or unreadable; nothing is deleted.
        """
        started = time.monotonic()
        if plan is None:
            plan = self._march(submit=self._queue, stopped=self._halted)
            self._check_device(plan)
        else:
            self._queue(plan.tasks)
        if self._features.sweep is not None:
            # Not in plan(): a dry run changes nothing. A copy in flight is never swept.
            self._features.sweep(source=self.source)
        report = self._report
        report.skipped(plan.skipped)
        report.excluded(plan.excluded)
        if not plan.complete:
            return plan  # stopped: nothing deleted, forgotten or settled
        self._outcomes.forget(plan.forget)
        # Unreadable directories (and entries) are failures of their paths, listed by `status`
        # and tried again at each reconcile. A replicator logs each once, when it starts.
        fresh = self._outcomes.unreadable(plan.unreadable)
        shown = plan if self._watcher is None else dataclasses.replace(plan, unreadable=fresh)
        log_plan(shown, self.source, self.log)
        report.expect(plan.unchanged + len(plan.unreadable))
        report.unchanged(plan.unchanged)
        for key, cause in plan.unreadable:
            report.failed(key, cause)
        report.refused(plan.refused)
        self._queue(plan.delete_tasks())
        # A refusal stands until a reconcile settles it; `status` shows it meanwhile.
        self._outcomes.reconciled(when=time.time(), refused=plan.refused)
        if self._watcher is not None:
            # What DEST holds once this reconcile's work is done (the source's files, or more
            # when its deletes were refused): the live guard's reference.
            self._guard.watch(max(plan.dest_count, plan.source_count))
        if self.observer is not None:
            self.observer(
                Change(
                    "reconciled",
                    time=time.time(),
                    detail=_plan_summary(plan),
                    duration=time.monotonic() - started,
                )
            )
        return plan

    def _queue(self, tasks: list[Task]) -> None:
        """Hand a reconcile's tasks to the engine (started by the first), a bounded backlog."""
        if not tasks:
            return
        engine = self._engine
        if not engine.started:
            # A no-change re-sync needs no worker threads: none until a task comes.
            with self._lock:
                if self._halted():
                    return
                engine.start()
        elif self._halted():
            return
        self._report.expect(len(tasks))
        engine.wait_room(QUEUE_AHEAD)
        engine.submit_many(tasks)

    def _halted(self) -> bool:
        """True when the reconcile under way is to stop early (interrupted, or a thread failed)."""
        return (
            self._interrupted.is_set()
            or self._engine.failure is not None
            or (self._live and self._stop.is_set())
        )

    def replay(self) -> int:
        """Queue the changes a previous run journaled but did not finish; return how many."""
        entries = self.journal.pending()
        if entries:
            self._engine.start()
        for entry in entries:
            self._engine.submit(Task(entry.key, [entry.seq], entry.moved_from))
        if entries:
            self.log.info("replaying %d journaled changes", len(entries))
        return len(entries)

    def sync_all(self, plan: Plan | None = None) -> SyncReport:
        """Replay the journal, reconcile, wait for every copy; return what was done.

        Args:
            plan: A plan just made by `plan()`, to avoid walking again.

        Raises:
            ReconcileError: The source is missing or unreadable; nothing is deleted.
            InternalError: A worker thread stopped on an unexpected exception.
        """
        self._report.reset()
        with self._lock:
            self._syncing = True
        try:
            self.replay()
            self.reconcile(plan)
            self._engine.wait_idle()
        finally:
            with self._lock:
                self._syncing = False
                self._interrupted.clear()
        self._raise_failure()
        report = self._report.snapshot()
        self._outcomes.synced(when=time.time(), summary=report.summary())
        return report

    def sync_object(self, path_or_key: str | os.PathLike[str]) -> SyncReport:
        """Replicate one file (an absolute path under the source, or a key) and wait for it."""
        text = os.fspath(path_or_key)
        if os.path.isabs(text):
            rel = os.path.relpath(text, self.source)
            if rel.startswith(".."):
                raise ValueError(f"{text} is not under {self.source}")
            text = rel
        key = text.replace(os.sep, "/")
        check_key(key, op="sync")
        self._report.reset()
        self._engine.start()
        self._engine.submit(Task(key))
        self._engine.wait_idle()
        self._raise_failure()
        return self._report.snapshot()

    # -- real time ---------------------------------------------------------------------------

    def run(self, *, on_ready: Callable[[SyncReport], None] | None = None) -> None:
        """Reconcile, then replicate every change as it happens until `stop()`.

        Args:
            on_ready: Called once the first reconcile is done, with its report.

        Raises:
            WatcherError: The source cannot be watched.
            ReconcileError: The first reconcile cannot run (the source is missing).
            InternalError: A thread (a worker, the event reader, the watcher's) stopped on an
                unexpected exception; replication stopped with it (what was not done stays
                journaled for the next start).
            RootLost: The source was deleted, moved away or unmounted (unless `wait_for_source`).
        """
        watcher = self._new_watcher(WatcherConfig(debounce_delay=self.debounce, ignore=self.ignore))
        reader = threading.Thread(
            target=self._guarded, args=(self._read_events, watcher), name="fsreplica-log"
        )
        try:
            with self._lock:
                if self._stop.is_set():
                    return
                self._watcher = watcher
            # Watch before scanning, so that nothing changed during the scan is missed.
            watcher.watch(self.source)
            # A one-shot sync gives up on a change after a few attempts and says so; a daemon
            # keeps a change that failed for a transient reason (the destination is down) in the
            # journal and retries it, the backoff capped, until it goes through or we stop.
            self._engine.keep_retrying(probe_interval=PROBE_INTERVAL)
            self._live = True
            self._engine.start()
            reader.start()
            self._report.reset()
            self.replay()
            self.reconcile()
            if on_ready is not None:
                self._engine.wait_idle()
                self._raise_failure()
                on_ready(self._report.snapshot())
            while not self._stop.wait(self.scan_interval):
                self._periodic(watcher)
        finally:
            watcher.stop()
            if reader.is_alive():
                reader.join()
            self._engine.stop()
        self._raise_failure()
        if self._lost is not None:
            raise self._lost

    def _guarded(self, body: Callable[[Watcher], None], watcher: Watcher) -> None:
        """Run a thread's `body`; an exception it ends on stops the replicator (never a zombie)."""
        try:
            body(watcher)
        except InternalError as exc:  # another thread's (the watcher's), raised in its stream
            self._fail(exc)
        except BaseException as exc:  # handed to run(), never swallowed
            self._fail(InternalError(threading.current_thread().name, exc))

    def _fail(self, error: InternalError) -> None:
        """Stop replicating because a thread failed; `run()` raises `error`. Any thread."""
        with self._lock:
            if self._failure is None:
                self._failure = error
        self.stop()

    def _raise_failure(self) -> None:
        failure = self._failure or self._engine.failure
        if failure is not None:
            raise failure

    def _outage(self, down: bool) -> None:
        """The destination went down (True) or came back: the engine probes, the observer hears."""
        self._engine.outage(down)
        if self.observer is not None:
            kind: ChangeKind = "destination-down" if down else "destination-up"
            self.observer(Change(kind, time=time.time(), detail=self._health.reason))

    def _recheck_later(self, task: Task) -> None:
        """Try a key parked as failed again later: its cause may pass without an event.

        Only while replicating in real time: a one-shot sync reports the failure and ends.
        """
        if not self._live:
            return
        cap = min(RECHECK_MAX, self.scan_interval)
        backoff = Backoff(base=min(RECHECK_FIRST, cap), cap=cap, max_attempts=None)
        parked = task.parked + 1
        self._engine.recheck(Task(task.key, parked=parked), backoff.delay(parked))

    def _follow(self, keys: list[str]) -> None:
        """Check the other names of a hard-linked file that changed through one of them.

        Only while replicating in real time (a one-shot sync checks every name anyway).
        """
        if not self._live:
            return
        for key in keys:
            self._engine.submit(Task(key))

    def _periodic(self, watcher: Watcher) -> None:
        if self._waiting is not None:
            return  # for the source to return: it reconciles then
        try:
            with self._reconciling:
                if watcher.stats.roots == 0:
                    watcher.watch(self.source)
                watcher.rewatch()  # directories that were unreadable, before they are walked
                self.reconcile()
        except (ReconcileError, WatcherError) as exc:
            self.log.error("%s", exc)

    def _read_events(self, watcher: Watcher) -> None:
        batches = watcher.event_batches
        while True:
            try:
                for events in batches():
                    self._on_event(events)
                return
            except RootLost as exc:
                self._source_lost(watcher, exc)
            except WatcherError as exc:
                self._watch_failed(exc)

    def _watch_failed(self, exc: WatcherError) -> None:
        """A directory cannot be watched: unreadable ones are failures of their paths."""
        err = exc.err
        if not (
            isinstance(err, OSError)
            and err.errno in (errno.EACCES, errno.EPERM)
            and exc.path.startswith(self.source + os.sep)
        ):
            return  # the watcher has logged it
        key = os.path.relpath(exc.path, self.source).replace(os.sep, "/")
        cause = (err.strerror or str(err)).lower()
        # Once, whether the watch or the walk found it first; retried at each reconcile.
        if self._outcomes.unwatchable(key, cause):
            self.log.warning("watch %s: %s", exc.path, cause)

    def _source_lost(self, watcher: Watcher, exc: RootLost) -> None:
        """The source went: stop (run() raises `exc`), or wait for it and go on."""
        if not self.wait_for_source:
            self._lost = exc
            self.stop()
            return
        self.log.warning("%s; waiting for it to return", exc)
        if self.observer is not None:
            self.observer(Change("source-gone", time=time.time(), detail=str(exc)))
        while True:
            try:
                from fsreplica.watch.appear import DirectoryWait  # noqa: PLC0415 - Linux, rare

                with DirectoryWait(self.source) as waiting:
                    with self._lock:
                        if self._stop.is_set():
                            return
                        self._waiting = waiting
                    try:
                        back = waiting.wait()
                    finally:
                        with self._lock:
                            self._waiting = None
                if not back:
                    return
                with self._reconciling:
                    watcher.watch(self.source)
                    self.log.warning("%s is back: reconciling", self.source)
                    if self.observer is not None:
                        self.observer(Change("source-back", time=time.time()))
                    self.reconcile()
                return
            except (ReconcileError, WatcherError) as why:
                if isinstance(why, WatcherStopped) or self._stop.is_set():
                    return
                if not os.path.isdir(self.source):
                    continue  # gone again before it could be watched: wait again
                self.log.error("%s", why)
                self._lost = exc
                self.stop()
                return

    def _on_event(self, events: list[FileSystemEvent]) -> None:
        """Queue the tasks of the events that arrived together, and journal them (one commit).

        The copies start while the entries are committed: a task's acknowledgement waits for
        its entry (see `Journal.reserve`), so the commit is off the path from close to DEST.
        """
        seqs = self.journal.reserve(len(events))
        self._engine.submit_many(
            [
                Task(event.key, [seq], event.moved_from)
                for event, seq in zip(events, seqs, strict=True)
            ]
        )
        self.journal.write(
            seqs,
            [(event.key, str(event.operation), event.moved_from, event.time) for event in events],
        )

    # -- what callers see and do (the CLI, a daemon) ------------------------------------------

    def resync(self) -> SyncReport:
        """While `run()` replicates: reconcile now, wait for its work, return what it did.

        What live changes did meanwhile is counted too. Any thread but `run()`'s.

        Raises:
            ReconcileError: The source is missing or unreadable.
            WatcherError: The source cannot be watched again.
            InternalError: A thread stopped on an unexpected exception.
        """
        watcher = self._watcher
        if watcher is None or not self._live:
            raise ReconcileError(self.source, "not replicating")
        before = self._report.snapshot()
        with self._reconciling:
            if watcher.stats.roots == 0:
                watcher.watch(self.source)
            watcher.rewatch()
            self.reconcile()
        self._engine.wait_idle()
        self._raise_failure()
        return _since(before, self._report.snapshot())

    @property
    def pending(self) -> int:
        """Changes waiting, being copied or waiting for a retry."""
        return self._engine.backlog()

    @property
    def destination_up(self) -> bool:
        """False while the destination fails for a reason that may pass."""
        return not self._health.down

    @property
    def destination_problem(self) -> str | None:
        """Why the destination is down (`<url>: <reason>`), or None while it takes writes."""
        reason = self._health.reason
        return None if reason is None else f"{self.destination.url}: {reason}"

    @property
    def waiting_for_source(self) -> bool:
        """True while `run()` waits for the source to return."""
        return self._waiting is not None

    @property
    def overflows(self) -> int:
        """Times the watcher's kernel queue overflowed (each followed by a rescan)."""
        watcher = self._watcher
        return 0 if watcher is None else watcher.stats.overflows

    @property
    def watches(self) -> int:
        """The inotify watches the replicator holds."""
        watcher = self._watcher
        return 0 if watcher is None else watcher.stats.watches

    @property
    def report(self) -> Report:
        """The tally of the current sync, or of real-time replication since its first reconcile."""
        return self._report

    def progress(self) -> SyncReport:
        """A snapshot of `report` as it is now; any thread."""
        return self._report.snapshot()

    def interrupt(self) -> None:
        """End a sync early: copies in flight finish, waiting ones are left (journaled).

        `sync_all` then returns what was done so far (its reconcile stops walking: nothing is
        deleted). Idempotent, any thread.
        """
        with self._lock:  # never between _queue's look at the flag and its start of the engine
            if self._syncing:
                self._interrupted.set()
        self._engine.stop()

    def stop(self) -> None:
        """Make `run()` return after in-flight copies finish; idempotent, any thread."""
        with self._lock:
            self._stop.set()
            watcher = getattr(self, "_watcher", None)
            waiting = getattr(self, "_waiting", None)
            if waiting is not None:  # cancelled under the lock: never once it is closed
                waiting.cancel()
        if watcher is not None:
            watcher.stop()
        self._engine.release()  # a reconcile waiting for room walks on, and sees it must stop

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop, finish in-flight copies, save the state and close; idempotent."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        self._engine.stop()
        if self._owns_state:
            self.state.close()
        self._close_destination()

    def _close_destination(self) -> None:
        if self._owns_destination:
            self.destination.close()

    def __enter__(self) -> Replicator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _plan_summary(plan: Plan) -> str:
    """One line on what a reconcile found."""
    copies = plan.queued + len(plan.tasks)
    text = f"{copies} to copy, {len(plan.deletes)} to delete, {plan.unchanged} unchanged"
    if plan.refused:
        text += f", deletes refused: {plan.refused}"
    return text


def _since(before: SyncReport, after: SyncReport) -> SyncReport:
    """What was done between two snapshots of one tally."""
    return SyncReport(
        files_copied=after.files_copied - before.files_copied,
        bytes_copied=after.bytes_copied - before.bytes_copied,
        deleted=after.deleted - before.deleted,
        renamed=after.renamed - before.renamed,
        metadata_updated=after.metadata_updated - before.metadata_updated,
        unchanged=after.unchanged - before.unchanged,
        skipped=after.skipped[len(before.skipped) :],
        failed=after.failed[len(before.failed) :],
        refused=after.refused,
        excluded=after.excluded - before.excluded,
        expected=after.expected - before.expected,
    )
