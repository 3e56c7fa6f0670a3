"""The durable change log: a change is appended before it is applied and acknowledged after.

Entries carry increasing sequence numbers. Acknowledging deletes the entry in the same
transaction that records its effect in the state, so after a crash an entry is either still there
(and is replayed) or its effect is recorded, never both lost. Replay reads entries in sequence
order; per key only the latest matters (the engine decides the operation from the disk when it
runs, so replaying an older entry can never undo a newer change).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fsreplica.replicate.state import State, from_sql, sql_key

_INSERT = "INSERT INTO journal (key, op, moved_from, time) VALUES (?, ?, ?, ?)"


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

    def append(self, key: str, op: str, *, moved_from: str | None = None, when: float = 0.0) -> int:
        """Record a change durably; return its sequence number."""
        # One statement is one transaction in autocommit mode: no BEGIN/COMMIT round trips on
        # the path of every change.
        with self.state.lock:
            cur = self.state.db.execute(
                _INSERT,
                (
                    sql_key(key),
                    op,
                    None if moved_from is None else sql_key(moved_from),
                    when or time.time(),
                ),
            )
            seq = cur.lastrowid
        assert seq is not None
        return seq

    def append_many(self, changes: Sequence[tuple[str, str, str | None, float]]) -> list[int]:
        """Record changes durably in one transaction; return their sequence numbers, in order.

        Args:
            changes: (key, op, moved_from, when) of each change, as for `append`.
        """
        if len(changes) == 1:
            key, op, moved_from, when = changes[0]
            return [self.append(key, op, moved_from=moved_from, when=when)]
        # One commit for the changes that arrived together: a commit per change cost more
        # than the change's copy under a steady flow of small files.
        now = time.time()
        seqs = []
        with self.state.transaction() as db:
            for key, op, moved_from, when in changes:
                seq = db.execute(
                    _INSERT,
                    (
                        sql_key(key),
                        op,
                        None if moved_from is None else sql_key(moved_from),
                        when or now,
                    ),
                ).lastrowid
                assert seq is not None
                seqs.append(seq)
        return seqs

    @staticmethod
    def ack(db: sqlite3.Connection, seqs: Iterable[int]) -> None:
        """Acknowledge entries (inside the transaction that records their effect)."""
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
