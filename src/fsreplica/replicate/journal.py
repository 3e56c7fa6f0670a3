"""The durable change log: a change is appended before it is applied and acknowledged after.

Entries carry increasing sequence numbers. Acknowledging deletes the entry in the same
transaction that records its effect in the state, so after a crash an entry is either still there
(and is replayed) or its effect is recorded, never both lost. Replay reads entries in sequence
order; per key only the latest matters (the engine decides the operation from the disk when it
runs, so replaying an older entry can never undo a newer change).

Sequence numbers are handed out in memory (`reserve`) before the entries are written (`write`),
so that a change's copy can start while its entry is being committed: the copy only reads the
disk, and its acknowledgement waits (`wait_written`) until the entry is committed. A crash in
between loses nothing: the change is either journaled (and replayed), or not yet journaled and
its copy, done or not, is not recorded in the state either, so the reconcile at start-up sees
the file differ from its record and copies it again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fsreplica.replicate.state import State, from_sql, sql_key

_INSERT = "INSERT INTO journal (seq, key, op, moved_from, time) VALUES (?, ?, ?, ?, ?)"
_LAST_SEQ = (
    "SELECT max(coalesce((SELECT max(seq) FROM journal), 0),"
    " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0))"
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One journaled change.

    Attributes:
        seq: Sequence number, increasing.
        key: The key.
        op: "put" or "delete", as the watcher saw it (a hint: the disk decides).
        moved_from: The old key when the put came from a rename inside the tree.
        time: When the change was seen (seconds since the epoch).
    """

    seq: int
    key: str
    op: str
    moved_from: str | None
    time: float


class Journal:
    """Append, acknowledge and replay changes in a State database.

    Args:
        state: The open state database.
    """

    def __init__(self, state: State) -> None:
        self.state = state
        self._last = -1  # the last sequence number handed out (-1: not read yet)
        # Reserved numbers whose entries are not committed yet; `wait_written` waits on them.
        self._unwritten: set[int] = set()
        self._written = threading.Condition(threading.Lock())

    def reserve(self, count: int) -> list[int]:
        """Hand out `count` increasing sequence numbers for entries `write` will commit."""
        with self._written:
            if self._last < 0:
                with self.state.lock:
                    self._last = int(self.state.db.execute(_LAST_SEQ).fetchone()[0])
            first = self._last + 1
            self._last += count
            seqs = list(range(first, self._last + 1))
            self._unwritten.update(seqs)
        return seqs

    def write(
        self, seqs: Sequence[int], changes: Sequence[tuple[str, str, str | None, float]]
    ) -> None:
        """Commit the entries of reserved `seqs` in one transaction (or none, when it raises).

        Args:
            seqs: Numbers from `reserve`, one per change.
            changes: (key, op, moved_from, when) of each change, as for `append`.
        """
        now = time.time()
        rows = [
            (
                seq,
                sql_key(key),
                op,
                None if moved_from is None else sql_key(moved_from),
                when or now,
            )
            for seq, (key, op, moved_from, when) in zip(seqs, changes, strict=True)
        ]
        try:
            if len(rows) == 1:
                # One statement is one transaction in autocommit mode: no BEGIN/COMMIT round
                # trips on the path of a lone change.
                with self.state.lock:
                    self.state.db.execute(_INSERT, rows[0])
            else:
                # One commit for the changes that arrived together: a commit per change cost
                # more than the change's copy under a steady flow of small files.
                with self.state.transaction() as db:
                    db.executemany(_INSERT, rows)
        finally:
            # Written, or never will be (the caller stops on the error): nobody waits longer.
            with self._written:
                self._unwritten.difference_update(seqs)
                self._written.notify_all()

    def wait_written(self, seqs: Iterable[int]) -> None:
        """Block until no entry of `seqs` is still being written (call it before acking them)."""
        with self._written:
            if self._unwritten:
                pending = [seq for seq in seqs if seq in self._unwritten]
                while pending:
                    self._written.wait()
                    pending = [seq for seq in pending if seq in self._unwritten]

    def append(self, key: str, op: str, *, moved_from: str | None = None, when: float = 0.0) -> int:
        """Record a change durably; return its sequence number."""
        return self.append_many([(key, op, moved_from, when)])[0]

    def append_many(self, changes: Sequence[tuple[str, str, str | None, float]]) -> list[int]:
        """Record changes durably in one transaction; return their sequence numbers, in order.

        Args:
            changes: (key, op, moved_from, when) of each change, as for `append`.
        """
        seqs = self.reserve(len(changes))
        self.write(seqs, changes)
        return seqs

    @staticmethod
    def ack(db: sqlite3.Connection, seqs: Iterable[int]) -> None:
        """Acknowledge entries (inside the transaction that records their effect).

        Entries still being written must be waited for first (`wait_written`), outside the
        transaction: their write needs the state's lock.
        """
        db.executemany("DELETE FROM journal WHERE seq = ?", [(seq,) for seq in seqs])

    def pending(self, *, limit: int = -1) -> list[Entry]:
        """Return unacknowledged entries in sequence order."""
        with self.state.lock:
            rows = self.state.db.execute(
                "SELECT seq, key, op, moved_from, time FROM journal ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Entry(seq, from_sql(key), op, None if moved is None else from_sql(moved), when)
            for seq, key, op, moved, when in rows
        ]

    def count(self) -> int:
        """Return how many entries are unacknowledged."""
        with self.state.lock:
            return int(self.state.db.execute("SELECT count(*) FROM journal").fetchone()[0])
