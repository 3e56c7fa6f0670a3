"""The worker pool: per-key serialisation, coalescing and retries.

Every task means "make the destination match the source for this key, as the disk is now", so
coalescing tasks of one key is always safe: only the latest matters. A key being worked on is
busy; a later task for it waits (coalesced with any other waiting one) until the first is done,
so an earlier change can never overtake a later one. A rename holds both of its keys.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from fsreplica.destinations import ObjectInfo
from fsreplica.errors import InternalError
from fsreplica.replicate.backoff import Backoff, DelayQueue

DEFAULT_TRANSFERS = 4
"""Parallel copies (to an object store, where each copy mostly waits on the network)."""
LOCAL_TRANSFERS = 2
"""Parallel copies to a local directory while replicating live. A small file's copy there is
mostly Python holding the GIL: more threads only trade it back and forth (and contend for the
directory's lock in the kernel); two still overlap big files (`copy_file_range` releases the
GIL), and a big file's copy never holds up every other change."""
LOCAL_SYNC_TRANSFERS = 1
"""Parallel copies of a one-shot sync to a local directory: one worker, taking batches, beside
the thread that walks the trees, spends a third less CPU on many small files than two, and as
much wall time on big ones (benchmarks/smallfiles_bench.py)."""
DEFAULT_MAX_BATCH = 64
"""Most tasks a worker takes at once when the apply function handles batches."""


def default_transfers(*, local: bool, live: bool) -> int:
    """Parallel copies when none are asked for.

    Args:
        local: The destination is a local directory.
        live: Replicating live (`replicate`, a daemon's policy), else a one-shot sync.
    """
    if not local:
        return DEFAULT_TRANSFERS
    return LOCAL_TRANSFERS if live else LOCAL_SYNC_TRANSFERS


class Mode(StrEnum):
    """What a task asks of the applier, by how much it trusts the state."""

    SYNC = "sync"
    """Compare with the state and copy what changed."""
    FORCE = "force"
    """The destination lacks the object or differs: copy whatever the state says."""
    ADOPT = "adopt"
    """An object with the same size and mtime exists: check its hash and keep it."""
    DELETE = "delete"
    """The reconcile saw the key only at the destination."""


# Coalescing two tasks of a key keeps the stronger demand.
_MODE_RANK = {Mode.SYNC: 0, Mode.DELETE: 0, Mode.ADOPT: 1, Mode.FORCE: 2}


@dataclass(slots=True)
class Task:
    """Work for one key.

    Attributes:
        key: The key.
        seqs: Journal entries this task acknowledges when done.
        moved_from: The key the file was renamed from, when known.
        mode: What is asked (see `Mode`).
        dest_info: What the destination held (for `Mode.ADOPT`).
        attempt: Failed attempts so far.
        parked: How many times this key was parked as failed and checked again since its last
            change (the backoff of those checks).
    """

    key: str
    seqs: list[int] = field(default_factory=list)
    moved_from: str | None = None
    mode: Mode = Mode.SYNC
    dest_info: ObjectInfo | None = None
    attempt: int = 0
    parked: int = 0

    def merge(self, later: Task) -> Task:
        """Coalesce this waiting task with a later one of the same key."""
        mode = later.mode if _MODE_RANK[later.mode] >= _MODE_RANK[self.mode] else self.mode
        return Task(
            later.key,
            self.seqs + later.seqs,
            later.moved_from or self.moved_from,
            mode,
            later.dest_info or self.dest_info,
            min(self.attempt, later.attempt),
            min(self.parked, later.parked),
        )


@dataclass(frozen=True, slots=True)
class Retry:
    """Returned by an apply function when a task should run again later."""

    error: BaseException


Apply = Callable[[Task], "Retry | None"]
ApplyBatch = Callable[[list[Task]], "list[Retry | None]"]
GiveUp = Callable[[Task, BaseException], None]
OnFailure = Callable[[InternalError], None]


class Engine:
    """Runs tasks on a pool of threads.

    A worker that meets an exception (from `apply`, `apply_batch` or `give_up`, which must not
    raise) does not run on without it: the engine stops, `failure` names the thread and the
    cause, `wait_idle` returns and `on_failure` is called. The tasks it held stay undone (their
    journal entries are replayed at the next start).

    While the destination is down (see `outage`), a task waiting for a retry is tried at least
    every `probe_interval` seconds, whatever its backoff, so that the destination's return is
    seen within that time; when it is back, every waiting task runs at once.

    Args:
        apply: Does one task; returns None when done or `Retry(error)` to try again later.
            Must not raise.
        give_up: Called when a task exhausted its attempts.
        apply_batch: Does several tasks of distinct keys at once (so that their writes are
            flushed and recorded together); one outcome per task, in order. When given, a
            worker takes every ready task it may (up to `max_batch`, sharing the backlog with
            the other workers) and a lone task runs at once as a batch of one: batching never
            waits for more work to arrive. Renames always run alone, through `apply`.
        max_batch: Most tasks per batch.
        transfers: Worker threads.
        backoff: Retry delays.
        clock: Monotonic clock, in seconds.
        on_failure: Called (in the failing worker) when a worker stopped on an exception.
        probe_interval: Longest time between two tries of waiting tasks while the destination
            is down; None for no probing (each task keeps to its backoff).
    """

    def __init__(
        self,
        apply: Apply,
        *,
        give_up: GiveUp,
        apply_batch: ApplyBatch | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        transfers: int = DEFAULT_TRANSFERS,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_failure: OnFailure | None = None,
        probe_interval: float | None = None,
    ) -> None:
        if transfers < 1:
            raise ValueError(f"transfers must be >= 1, got {transfers}")
        self._apply = apply
        self._give_up = give_up
        self._apply_batch = apply_batch
        self._max_batch = max(1, max_batch)
        self._transfers = transfers
        self.backoff = backoff or Backoff()
        self._clock = clock
        # Workers wait on `_cond`, callers of `wait_idle` on `_idle`, over one lock: a finished
        # task wakes a worker only when it re-queued a key, and the waiters only when all is
        # done. Waking every thread after every task cost a context switch and a GIL hand-off
        # per file (10,000 wake-ups of the waiting main thread in a 10,000-file sync).
        lock = threading.Lock()
        self._cond = threading.Condition(lock)
        self._idle = threading.Condition(lock)
        self._room = threading.Condition(lock)  # a producer waiting for the backlog to shrink
        self._room_at = -1  # wake it when so few tasks wait (-1: nobody waits)
        self._released = False  # wait_room returns at once (the producer's owner stops)
        self._pending: dict[str, Task] = {}
        self._ready: collections.deque[str] = collections.deque()
        self._busy: set[str] = set()
        self._delayed: DelayQueue[Task] = DelayQueue()
        # Parked keys checked again later: not work in progress (never counted by `idle`).
        self._rechecks: DelayQueue[Task] = DelayQueue()
        self._recheck_keys: set[str] = set()
        self._on_failure = on_failure
        self.probe_interval = probe_interval
        self._down = False
        self._last_try = 0.0  # when a waiting task was last taken for a retry
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.started = False
        self.failure: InternalError | None = None

    def keep_retrying(self, *, probe_interval: float) -> None:
        """Never give a task up: retry it (the backoff capped) until it goes through or we stop.

        Args:
            probe_interval: Longest time between two tries of waiting tasks while the
                destination is down.
        """
        with self._cond:
            self.backoff = dataclasses.replace(self.backoff, max_attempts=None)
            self.probe_interval = probe_interval

    def start(self) -> None:
        """Start the workers; idempotent."""
        with self._cond:
            if self.started:
                return
            self.started = True
            self._stopping = False
            self._released = False
        for n in range(self._transfers):
            thread = threading.Thread(target=self._work, name=f"fsreplica-transfer-{n}")
            thread.start()
            self._threads.append(thread)

    def submit(self, task: Task) -> None:
        """Queue `task`, coalescing it with a waiting task of the same key."""
        with self._cond:
            self._submit_locked(task)
            self._cond.notify()

    def submit_many(self, tasks: list[Task]) -> None:
        """Queue `tasks` (distinct keys or not) as `submit` does, under one lock."""
        with self._cond:
            for task in tasks:
                self._submit_locked(task)
            self._cond.notify(len(tasks))

    def wait_room(self, limit: int) -> None:
        """Block while `limit` tasks or more wait to run; return at once unless workers run.

        For a producer that decides work faster than it is done (a reconcile that walks while
        the workers copy): the backlog, and the memory it holds, stays bounded. It goes on
        once half of them have been taken, so that workers always find a batch ready.
        """
        with self._cond:
            while (
                len(self._pending) >= limit
                and self.started
                and not (self._stopping or self._released)
            ):
                self._room_at = limit // 2
                self._room.wait()
            self._room_at = -1

    def _submit_locked(self, task: Task) -> None:
        key = task.key
        waiting = self._pending.get(key)
        if waiting is not None:
            self._pending[key] = waiting.merge(task)
            return
        self._pending[key] = task
        if key not in self._busy:
            self._ready.append(key)

    def _next(self) -> Task | None:
        """Return the next runnable task, or None when stopping; called with the lock held."""
        while True:
            now = self._clock()
            came_due = self._delayed.pop_due(now)
            if not came_due and self._probe_at() <= now:
                came_due = self._delayed.pop_first()  # the destination is down: try it again
            if came_due:
                self._last_try = now
            for task in self._rechecks.pop_due(now):
                self._recheck_keys.discard(task.key)
                came_due.append(task)
            for task in came_due:
                self._submit_locked(task)
            if len(came_due) > 1:
                self._cond.notify(len(came_due) - 1)  # this worker takes one: others, the rest
            if self._stopping:
                return None
            while self._ready:
                key = self._ready.popleft()
                if key in self._busy or key not in self._pending:
                    continue  # re-queued when its key is released
                task = self._pending.pop(key)
                self._busy.add(key)
                if len(self._pending) <= self._room_at:
                    self._room.notify_all()
                moved = task.moved_from
                if moved is not None:
                    if moved in self._busy or moved == key:
                        task.moved_from = None  # cannot hold both keys: copy instead
                    else:
                        self._busy.add(moved)
                return task
            dues = [
                due
                for due in (self._delayed.next_due(), self._rechecks.next_due(), self._probe_at())
                if due is not None and due != math.inf
            ]
            self._cond.wait(max(0.0, min(dues) - now) if dues else None)

    def _probe_at(self) -> float:
        """When a waiting task is next tried early (the destination is down); called locked."""
        if not self._down or self.probe_interval is None or not self._delayed:
            return math.inf
        return self._last_try + self.probe_interval

    def _more(self, first: Task) -> list[Task]:
        """Take more ready tasks to run with `first`; called with the lock held."""
        batch = [first]
        if self._apply_batch is None or first.moved_from is not None:
            return batch
        ready, pending, busy = self._ready, self._pending, self._busy
        limit = min(self._max_batch, 1 + len(ready) // self._transfers)
        while len(batch) < limit and ready:
            key = ready[0]
            task = pending.get(key)
            if task is None or key in busy:
                ready.popleft()  # re-queued when its key is released
                continue
            if task.moved_from is not None:
                break  # a rename holds two keys: it runs alone
            ready.popleft()
            del pending[key]
            busy.add(key)
            batch.append(task)
        if len(pending) <= self._room_at:
            self._room.notify_all()
        return batch

    def _release(self, task: Task, held: list[str]) -> None:
        requeued = 0
        for key in held:
            self._busy.discard(key)
            if key in self._pending:
                self._ready.append(key)
                requeued += 1
        if requeued:
            self._cond.notify(requeued)
        if not (self._pending or self._busy or self._delayed):
            self._idle.notify_all()

    def _work(self) -> None:
        try:
            while True:
                with self._cond:
                    first = self._next()
                    if first is None:
                        return
                    tasks = self._more(first)
                if self._apply_batch is not None and first.moved_from is None:
                    outcomes = self._apply_batch(tasks)
                else:
                    outcomes = [self._apply(first)]
                for task, outcome in zip(tasks, outcomes, strict=True):
                    self._finish(task, outcome)
        except BaseException as exc:  # handed to the owner, never swallowed
            self._died(exc)

    def _died(self, exc: BaseException) -> None:
        """Stop the engine on a worker's unexpected exception and report it."""
        failure = InternalError(threading.current_thread().name, exc)
        with self._cond:
            first = self.failure is None
            if first:
                self.failure = failure
            self._stopping = True
            self._cond.notify_all()
            self._idle.notify_all()
            self._room.notify_all()
        if first and self._on_failure is not None:
            self._on_failure(failure)

    def _finish(self, task: Task, outcome: Retry | None) -> None:
        held = [task.key] if task.moved_from is None else [task.key, task.moved_from]
        give_up: BaseException | None = None
        with self._cond:
            if outcome is not None:
                task.attempt += 1
                if self.backoff.gives_up(task.attempt):
                    give_up = outcome.error
                else:
                    task.moved_from = None
                    due = self._clock() + self.backoff.delay(task.attempt)
                    self._delayed.push(due, task)
                    self._cond.notify()  # a waiting worker must wait no longer than `due`
            if give_up is None:
                self._release(task, held)
        if give_up is not None:
            # Still holding the key: the failure is recorded before a later change runs.
            try:
                self._give_up(task, give_up)
            finally:
                with self._cond:
                    self._release(task, held)

    def recheck(self, task: Task, delay: float) -> None:
        """Run `task` after `delay` seconds, unless a check of its key is already scheduled.

        For keys parked as failed, whose cause may pass without an event (a chmod): such a
        check is not work in progress, so `idle`, `wait_idle` and `backlog` leave it out.
        """
        with self._cond:
            if task.key in self._recheck_keys:
                return
            self._recheck_keys.add(task.key)
            self._rechecks.push(self._clock() + delay, task)
            self._cond.notify()

    def outage(self, down: bool) -> None:
        """Say whether the destination is down; when it is back, every waiting task runs now."""
        with self._cond:
            self._down = down
            self._last_try = self._clock()
            back = [] if down else self._delayed.pop_first(len(self._delayed))
            for task in back:
                self._submit_locked(task)
            self._cond.notify(max(1, len(back)))

    def release(self) -> None:
        """Make `wait_room` return now, and at once until the next `start()`; any thread."""
        with self._cond:
            self._released = True
            self._room.notify_all()

    @property
    def idle(self) -> bool:
        """True when nothing is waiting, running or scheduled for a retry."""
        with self._cond:
            return not (self._pending or self._busy or self._delayed)

    def backlog(self) -> int:
        """Tasks waiting, running or scheduled for a retry."""
        with self._cond:
            return len(self._pending) + len(self._busy) + len(self._delayed)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until idle (or stopped); return False on timeout."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self._stopping or not (self._pending or self._busy or self._delayed),
                timeout,
            )

    def stop(self) -> None:
        """Let running tasks finish, then end the workers; waiting tasks are left (journaled).

        Idempotent.
        """
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            self._idle.notify_all()
            self._room.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        with self._cond:
            self.started = False
