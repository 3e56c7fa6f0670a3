"""Where the outcomes of replication are persisted.

Records, forgotten keys, failures and the journal entries they acknowledge: each outcome in one
transaction with its acknowledgements.
"""

from __future__ import annotations

from collections.abc import Sequence

from fsreplica.replicate.engine import Task
from fsreplica.replicate.journal import Journal
from fsreplica.replicate.state import FileRecord, State

Done = tuple[Task, FileRecord | None, str | None]
"""A task done: its new record (None: the key is gone) and the key it was renamed from."""


class Outcomes:
    """Writes what tasks and reconciles found to the state; thread-safe (the state is).

    Args:
        state: The state database.
        journal: The journal of that database, whose entries the outcomes acknowledge.
    """

    def __init__(self, state: State, journal: Journal) -> None:
        self.state = state
        self.journal = journal

    def done(self, done: Sequence[Done]) -> None:
        """Record tasks of distinct keys done, and acknowledge their entries, in one transaction."""
        if not done:
            return
        # Keys of one batch are distinct (a rename, which drops its old key, runs alone): the
        # order of the statements does not matter, so each kind is one executemany.
        gone = [old for _, _, old in done if old is not None]
        gone += [task.key for task, rec, _ in done if rec is None]
        records = [rec for _, rec, _ in done if rec is not None]
        seqs = [seq for task, _, _ in done for seq in task.seqs]
        self.journal.wait_written(seqs)
        with self.state.transaction() as db:
            if gone:
                self.state.forget_many(db, gone)
            if records:
                self.state.record_many(db, records)
            if seqs:
                self.journal.ack(db, seqs)

    def failed(self, task: Task, op: str, reason: str) -> bool:
        """Record `task`'s key as failed and acknowledge its entries; True when newly failed."""
        self.journal.wait_written(task.seqs)
        with self.state.transaction() as db:
            new = self.state.fail(db, task.key, op, reason)
            self.journal.ack(db, task.seqs)
        return new

    def refused(self, task: Task, reason: str, *, first: bool) -> None:
        """Record a live delete refused by the guard; the `first` reason is shown by `status`."""
        self.failed(task, "delete", f"refused: {reason}")
        if first:
            self.state.set_meta(deletes_refused=reason)  # until a reconcile settles it

    def forget(self, keys: Sequence[str]) -> None:
        """Drop the records of keys gone from both sides."""
        if keys:
            with self.state.transaction() as db:
                self.state.forget_many(db, list(keys))

    def unreadable(self, unreadable: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Record what a walk could not read as failures, clear the rest; return the new."""
        with self.state.transaction() as db:
            return self.state.settle_unreadable(db, unreadable)

    def unwatchable(self, key: str, cause: str) -> bool:
        """Record a directory that cannot be watched as failed; True when newly failed."""
        with self.state.transaction() as db:
            return self.state.fail(db, key, "watch", cause)

    def reconciled(self, *, when: float, refused: str | None) -> None:
        """A reconcile was queued; its refusal (if any) stands until the next one settles it."""
        self.state.set_meta(last_reconcile=when, deletes_refused=refused or "")

    def synced(self, *, when: float, summary: str) -> None:
        """A one-shot sync finished with `summary`."""
        self.state.set_meta(last_sync=when, last_summary=summary)
