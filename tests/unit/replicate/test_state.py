"""The state database: records read one, many or all at a time."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from fsreplica.replicate.journal import Journal
from fsreplica.replicate.state import FileRecord, State


def record(key: str, size: int = 1) -> FileRecord:
    return FileRecord(key, size, 10, 20, 30, 0o644, None, 10)


class TestRecords:
    """get, get_many and iter_files agree."""

    def test_get_many_returns_the_existing_ones(self, tmp_path: Path) -> None:
        with State(tmp_path / "s.db") as state:
            with state.transaction() as db:
                for n in range(5):
                    state.record(db, record(f"k{n}", n))
            assert state.get_many(["k1", "missing", "k3"]) == {
                "k1": record("k1", 1),
                "k3": record("k3", 3),
            }
            assert state.get_many(["k4"]) == {"k4": record("k4", 4)}
            assert state.get_many(["missing"]) == {}
            assert (
                {r.key: r for r in state.iter_files()}["k2"] == state.get("k2") == record("k2", 2)
            )


class TestNamesThatAreNotText:
    """Keys that are not valid UTF-8 (surrogate-escaped bytes) round-trip; TEXT keys are kept."""

    BAD = os.fsdecode(b"dir\n/bad\xff.txt")

    def test_records_failures_and_journal(self, tmp_path: Path) -> None:
        with State(tmp_path / "s.db") as state:
            journal = Journal(state)
            with state.transaction() as db:
                state.record(db, record(self.BAD))
                state.record_many(db, [record("plain"), record(self.BAD + "2")])
                state.fail(db, self.BAD + "3", "put", f"put /dst/{self.BAD}3: denied")
            assert state.get(self.BAD) == record(self.BAD)
            assert state.get_many([self.BAD, "plain"]) == {
                self.BAD: record(self.BAD),
                "plain": record("plain"),
            }
            assert {r.key for r in state.iter_files()} == {self.BAD, self.BAD + "2", "plain"}
            [failure] = state.failures()
            assert (failure.key, failure.reason) == (
                self.BAD + "3",
                f"put /dst/{self.BAD}3: denied",
            )
            seq = journal.append(self.BAD, "put", moved_from=self.BAD + "old")
            [entry] = journal.pending()
            assert (entry.seq, entry.key, entry.moved_from) == (seq, self.BAD, self.BAD + "old")
            with state.transaction() as db:
                state.forget(db, self.BAD)
                state.forget_many(db, [self.BAD + "2", self.BAD + "3"])
            assert {r.key for r in state.iter_files()} == {"plain"}
            assert state.failures() == []
            state.set_meta(source=self.BAD)
            assert state.get_meta("source") == self.BAD

    def test_a_state_file_with_text_keys_reads_the_same(self, tmp_path: Path) -> None:
        path = tmp_path / "s.db"
        with State(path) as state, state.transaction() as db:
            state.record(db, record("é/plain.txt"))
        db = sqlite3.connect(path)
        try:
            assert db.execute("SELECT typeof(key) FROM files").fetchall() == [("text",)]
        finally:
            db.close()
        with State(path) as state:
            assert state.get("é/plain.txt") == record("é/plain.txt")
            with state.transaction() as db:
                state.record(db, record("é/plain.txt", 2))
            assert list(state.iter_files()) == [record("é/plain.txt", 2)]


class TestJournal:
    """Changes appended together are one transaction, in order, with increasing seqs."""

    def test_append_many_then_pending_and_ack(self, tmp_path: Path) -> None:
        with State(tmp_path / "s.db") as state:
            journal = Journal(state)
            first = journal.append("a", "put")
            seqs = journal.append_many(
                [("b", "put", None, 5.0), ("c", "delete", None, 0.0), ("d", "put", "b", 6.0)]
            )
            assert [first, *seqs] == sorted({first, *seqs})
            assert journal.append_many([("e", "put", None, 7.0)]) == [seqs[-1] + 1]
            entries = journal.pending()
            assert [(e.key, e.op, e.moved_from) for e in entries] == [
                ("a", "put", None),
                ("b", "put", None),
                ("c", "delete", None),
                ("d", "put", "b"),
                ("e", "put", None),
            ]
            assert entries[1].time == 5.0
            assert entries[2].time > 0
            with state.transaction() as db:
                Journal.ack(db, seqs)
            assert [e.key for e in journal.pending()] == ["a", "e"]


class TestReservedSeqs:
    """Numbers handed out before their entries are written: never reused, acks wait for them."""

    def test_numbers_continue_after_acked_entries_of_an_earlier_run(self, tmp_path: Path) -> None:
        with State(tmp_path / "s.db") as state:
            seqs = Journal(state).append_many([("a", "put", None, 0.0), ("b", "put", None, 0.0)])
            with state.transaction() as db:
                Journal.ack(db, seqs)  # the table is empty again: AUTOINCREMENT remembers
        with State(tmp_path / "s.db") as state:
            journal = Journal(state)
            assert journal.reserve(2) == [seqs[-1] + 1, seqs[-1] + 2]
            assert journal.append("c", "put") == seqs[-1] + 3

    def test_an_ack_waits_until_the_entry_is_written(self, tmp_path: Path) -> None:
        with State(tmp_path / "s.db") as state:
            journal = Journal(state)
            [seq] = journal.reserve(1)
            journal.wait_written([seq + 100])  # not reserved: returns at once
            acked = threading.Event()

            def ack() -> None:
                journal.wait_written([seq])
                with state.transaction() as db:
                    Journal.ack(db, [seq])
                acked.set()

            thread = threading.Thread(target=ack)
            thread.start()
            try:
                assert not acked.wait(0.2)  # no entry to ack yet: it waits
                journal.write([seq], [("a", "put", None, 0.0)])
                assert acked.wait(10)
            finally:
                thread.join(10)
            assert journal.pending() == []  # acked after it was written, never before

    def test_a_failed_write_releases_the_waiters(self, tmp_path: Path) -> None:
        with State(tmp_path / "s.db") as state:
            journal = Journal(state)
            first, second = journal.reserve(2)
            journal.write([first], [("a", "put", None, 0.0)])
            with pytest.raises(sqlite3.IntegrityError):  # `first` again: the batch fails whole
                journal.write([first, second], [("a", "put", None, 0.0), ("b", "put", None, 0.0)])
            journal.wait_written([second])  # returns: the caller stops on the error
            assert [e.seq for e in journal.pending()] == [first]
