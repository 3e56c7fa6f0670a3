"""The state database: what was replicated, what is pending, what failed.

One SQLite file per SRC/DEST pair, in WAL mode, created 0600 inside 0700 directories. A single
connection is shared by the engine's threads behind a lock: every transaction is a handful of
row updates, far shorter than the copies around them.

With `synchronous=NORMAL` a committed transaction survives the process being killed (SIGKILL);
after a power loss the last few may be lost, which the reconcile at start-up repairs.

Keys are file names, and a file name need not be UTF-8 (see `fsreplica._names`). A key that is
valid UTF-8 is stored as TEXT; any other (one holding surrogates, as `os.fsdecode` makes them) as a
BLOB of its UTF-8 with the surrogates passed through. Every key is bound with `sql_key` and read
with `from_sql`, so each key has exactly one stored form, and a state file whose names are all
valid UTF-8 holds plain TEXT keys only. Values stored in `meta` (the source path) are stored the
same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import quote

from fsreplica._oserrors import cause_of
from fsreplica.destinations._location import parse_location
from fsreplica.errors import StateError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
    key TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    ctime_ns INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    sha256 TEXT,
    dest_mtime_ns INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS files_inode ON files (inode);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    op TEXT NOT NULL,
    moved_from TEXT,
    time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
"""


def sql_key(key: str) -> str | bytes:
    """Return how `key` is stored: itself when it is valid UTF-8, else a BLOB that keeps it."""
    if key.isascii():
        return key
    try:
        key.encode()
    except UnicodeEncodeError:
        return key.encode("utf-8", "surrogatepass")
    return key


def from_sql(value: str | bytes) -> str:
    """Return the key stored as `value` by `sql_key`."""
    if isinstance(value, str):
        return value
    return value.decode("utf-8", "surrogatepass")


def _sql_record(rec: FileRecord) -> tuple[object, ...]:
    key = sql_key(rec.key)
    return rec if key is rec.key else (key, *rec[1:])


def _record_of(row: tuple[object, ...]) -> FileRecord:
    key = row[0]
    if isinstance(key, bytes):
        row = (from_sql(key), *row[1:])
    return FileRecord._make(row)


class FileRecord(NamedTuple):
    """A source file as it was when last replicated, and what the destination then held.

    Attributes:
        key: The key.
        size: Size in bytes.
        mtime_ns: Source modification time.
        ctime_ns: Source change time (any write, chmod, rename of the inode).
        inode: Source inode number.
        mode: Source permission bits.
        sha256: Content hash, or None when adopted from a destination without one.
        dest_mtime_ns: The mtime the destination reported for its copy.
    """

    key: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    mode: int
    sha256: str | None
    dest_mtime_ns: int

    def same_stat(self, st: os.stat_result) -> bool:
        """True when `st` shows the file untouched since it was recorded."""
        return (
            st.st_size == self.size
            and st.st_mtime_ns == self.mtime_ns
            and st.st_ctime_ns == self.ctime_ns
            and st.st_ino == self.inode
            and (st.st_mode & 0o7777) == self.mode
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """A key that could not be replicated, with the last reason."""

    key: str
    op: str
    reason: str
    attempts: int
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class Summary:
    """What a status shows of a state (see `State.summary`).

    Attributes:
        failures: How many keys are failing.
        failing: The oldest of them.
        refused: Why live deletes are refused until a reconcile settles it, or None.
        oldest_pending: When the oldest unacknowledged journal entry was seen, or None.
    """

    failures: int
    failing: tuple[Failure, ...]
    refused: str | None
    oldest_pending: float | None


def default_state_path(source: str, destination: str) -> Path:
    """Return `$XDG_STATE_HOME/fsreplica/<hash of SRC and DEST>.db`.

    Args:
        source: The absolute source directory.
        destination: The destination URL or path, as written or as `Destination.url` gives it.
            A local one (`dst`, `/abs/dst/`, `file:///abs/dst`) is reduced to its absolute path,
            the `url` of the LocalDestination it opens, so every spelling hashes alike.
    """
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local/state")
    # Read as open_destination reads it: `status` never opens the destination (that would
    # create it), yet must find what `sync` recorded.
    destination = parse_location(destination).path or destination
    import hashlib  # noqa: PLC0415 - only without --state; OpenSSL takes ms to load

    pair = f"{source}\0{destination}".encode("utf-8", "surrogateescape")  # paths are bytes
    digest = hashlib.sha256(pair).hexdigest()[:20]
    return Path(base) / "fsreplica" / f"{digest}.db"


def holder(path: str | os.PathLike[str]) -> int | None:
    """The pid of the process that holds the state file `path` for writing, if one does.

    Read from /proc/locks (the flock a writer takes on `<path>.lock`), so asking never takes the
    lock itself: a replicator starting at that moment is never turned away. None where nothing
    holds it, or where /proc/locks cannot tell (not Linux).
    """
    try:
        st = os.stat(os.fspath(path) + ".lock")
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    inode = f":{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (" ->" marks a waiter)
        if "FLOCK" in fields and "->" not in fields and len(fields) >= 6:
            pid, where = fields[-4], fields[-3]
            if f":{where}".endswith(inode) and pid.isdigit():
                return int(pid)
    return None


class State:
    """The state database of one replication.

    Args:
        path: The SQLite file; created 0600 (parents 0700) when missing.
        exclusive: Take a lock so that a second writer fails fast (`status` opens without it).
        readonly: Open without writing anything (for `status`).

    Raises:
        StateError: The file cannot be opened, or another process holds it.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, exclusive: bool = True, readonly: bool = False
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.lock = threading.Lock()
        self._lock_fd = -1
        self._read_lock = threading.Lock()
        self._read_db: sqlite3.Connection | None = None
        try:
            if readonly:
                if not os.path.exists(self.path):
                    raise StateError(self.path, "no such state file")
                # A URI: '?', '#', '%' and bytes that are not UTF-8 in the path are quoted.
                uri = "file:" + quote(os.fsencode(self.path)) + "?mode=ro"
                if not os.path.exists(self.path + "-wal"):
                    # No writer has it open (a writer keeps its -wal file): read it as a plain
                    # file, else SQLite would leave a -wal and -shm beside it (read-only means
                    # nothing written, not even those).
                    uri += "&immutable=1"
                self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
                if exclusive:
                    self._take_lock()
                self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(_SCHEMA)
                self.db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.Error as exc:
            self._release_lock()
            raise StateError(self.path, str(exc).lower()) from exc
        except OSError as exc:
            self._release_lock()
            raise StateError(self.path, cause_of(exc)) from exc
        self.db.execute("PRAGMA busy_timeout=5000")
        if not readonly:
            try:
                self._open_reader()
            except sqlite3.Error as exc:
                self.close()
                raise StateError(self.path, str(exc).lower()) from exc

    def _take_lock(self) -> None:
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateError(self.path, "in use by another fsreplica process") from None
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and run the block in one transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, name: str) -> str | None:
        """Return a stored setting or figure, or None."""
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return from_sql(row[0]) if isinstance(row[0], (str, bytes)) else str(row[0])

    def set_meta(self, **values: str | float | int) -> None:
        """Store settings or figures by name."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [(name, sql_key(str(value))) for name, value in values.items()],
            )

    # -- files -------------------------------------------------------------------------------

    def get(self, key: str) -> FileRecord | None:
        """Return the record of `key`, or None."""
        with self.lock:
            row = self.db.execute("SELECT * FROM files WHERE key = ?", (sql_key(key),)).fetchone()
        return None if row is None else _record_of(row)

    def get_many(self, keys: list[str]) -> dict[str, FileRecord]:
        """Return the committed records of `keys` that exist, by key, in one query.

        Read through a second connection (WAL lets it read beside a writer): a worker looking
        up the records of its batch never waits for another thread's commit, such as the
        journal append of the change it is about to copy. Never call it for a record written
        in a transaction still open.
        """
        if len(keys) == 1:
            query = "SELECT * FROM files WHERE key = ?"
        else:
            query = f"SELECT * FROM files WHERE key IN ({','.join('?' * len(keys))})"  # noqa: S608
        db, lock = (
            (self.db, self.lock) if self._read_db is None else (self._read_db, self._read_lock)
        )
        with lock:
            rows = db.execute(query, [sql_key(key) for key in keys]).fetchall()
        records = map(_record_of, rows)
        return {rec.key: rec for rec in records}

    def _open_reader(self) -> None:
        """Open the second connection now, files and all: a batch must not need a descriptor."""
        self._read_db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._read_db.execute("PRAGMA busy_timeout=5000")
        self._read_db.execute("SELECT count(*) FROM meta").fetchone()  # opens the -wal and -shm

    def iter_files(self, *, page: int = 1000) -> Iterator[FileRecord]:
        """Yield every record in the order of the stored keys, `page` records per query.

        TEXT keys come first, in the order of their UTF-8 bytes (SQLite's BINARY collation, the
        primary key's own order: no sort); BLOB keys (names that are not UTF-8) after them. Each
        page is read under the lock, so writers go on between two pages; a record written
        meanwhile is seen or not depending on where it falls.
        """
        make = FileRecord._make
        after: str | bytes | None = None
        while True:
            with self.lock:
                if after is None:
                    rows = self.db.execute(
                        "SELECT * FROM files ORDER BY key LIMIT ?", (page,)
                    ).fetchall()
                else:
                    rows = self.db.execute(
                        "SELECT * FROM files WHERE key > ? ORDER BY key LIMIT ?", (after, page)
                    ).fetchall()
            for row in rows:
                yield make(row) if row[0].__class__ is str else _record_of(row)
            if len(rows) < page:
                return
            after = rows[-1][0]

    def keys_with_inode(self, inode: int) -> list[str]:
        """Return the keys recorded with source inode `inode` (the names of a hard link)."""
        with self.lock:
            rows = self.db.execute("SELECT key FROM files WHERE inode = ?", (inode,)).fetchall()
        return [str(row[0]) for row in rows]

    def count_files(self) -> int:
        """Return how many keys are recorded."""
        with self.lock:
            return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])

    def record(self, db: sqlite3.Connection, rec: FileRecord) -> None:
        """Store `rec` (inside a transaction) and clear any failure of its key."""
        db.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sql_key(rec.key),
                rec.size,
                rec.mtime_ns,
                rec.ctime_ns,
                rec.inode,
                rec.mode,
                rec.sha256,
                rec.dest_mtime_ns,
            ),
        )
        db.execute("DELETE FROM failures WHERE key = ?", (sql_key(rec.key),))

    def record_many(self, db: sqlite3.Connection, records: Sequence[FileRecord]) -> None:
        """Store `records` (inside a transaction) and clear any failure of their keys.

        Two statements for a whole batch: two per file cost more than the rest of the commit.
        """
        rows = [_sql_record(rec) for rec in records]
        db.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany("DELETE FROM failures WHERE key = ?", [row[:1] for row in rows])

    def forget_many(self, db: sqlite3.Connection, keys: Sequence[str]) -> None:
        """Drop the records and failures of `keys` (inside a transaction)."""
        params = [(sql_key(key),) for key in keys]
        db.executemany("DELETE FROM files WHERE key = ?", params)
        db.executemany("DELETE FROM failures WHERE key = ?", params)

    def forget(self, db: sqlite3.Connection, key: str) -> None:
        """Drop the record and any failure of `key` (inside a transaction)."""
        param = (sql_key(key),)
        db.execute("DELETE FROM files WHERE key = ?", param)
        db.execute("DELETE FROM failures WHERE key = ?", param)

    # -- failures ----------------------------------------------------------------------------

    def fail(self, db: sqlite3.Connection, key: str, op: str, reason: str) -> bool:
        """Record a failure of `key` (inside a transaction); True when it is new or changed."""
        now = time.time()
        stored = sql_key(key)
        reason_stored = sql_key(reason)  # may quote a name
        row = db.execute("SELECT reason FROM failures WHERE key = ?", (stored,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO failures VALUES (?, ?, ?, 1, ?, ?)",
                (stored, op, reason_stored, now, now),
            )
            return True
        db.execute(
            "UPDATE failures SET op = ?, reason = ?, attempts = attempts + 1, last_seen = ? "
            "WHERE key = ?",
            (op, reason_stored, now, stored),
        )
        return bool(row[0] != reason_stored)

    def settle_unreadable(
        self, db: sqlite3.Connection, unreadable: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """Record what a source walk could not read (inside a transaction).

        Args:
            db: The connection of the transaction.
            unreadable: (key, cause) of the directories and entries the walk could not read.

        Returns:
            Those whose failure is new or has another cause; failures of a scan or a watch of
            keys that are readable again are cleared.
        """
        keys = {sql_key(key) for key, _ in unreadable}  # compared as stored (str or BLOB)
        rows = db.execute("SELECT key FROM failures WHERE op IN ('scan', 'watch')").fetchall()
        db.executemany("DELETE FROM failures WHERE key = ?", [r for r in rows if r[0] not in keys])
        return [(key, cause) for key, cause in unreadable if self.fail(db, key, "scan", cause)]

    def failures(self) -> list[Failure]:
        """Return every recorded failure, oldest first."""
        with self.lock:
            rows = self.db.execute("SELECT * FROM failures ORDER BY first_seen, key").fetchall()
        return [_failure(row) for row in rows]

    def summary(self, *, shown: int, wait: bool = True) -> Summary:
        """What a status shows, in one hold of the lock: failures, refusal, oldest change.

        Args:
            shown: How many of the oldest failures to return.
            wait: False: raise instead of waiting while a writer holds the lock (a daemon's
                status answers with what it read before rather than wait for a commit).

        Raises:
            TimeoutError: `wait` is False and the lock is held.
        """
        if not self.lock.acquire(blocking=wait):
            raise TimeoutError(f"{self.path}: being written")
        try:
            db = self.db
            count = db.execute("SELECT count(*) FROM failures").fetchone()[0]
            rows = db.execute(
                "SELECT * FROM failures ORDER BY first_seen, key LIMIT ?", (shown,)
            ).fetchall()
            refused = db.execute("SELECT value FROM meta WHERE name = 'deletes_refused'").fetchone()
            oldest = db.execute("SELECT time FROM journal ORDER BY seq LIMIT 1").fetchone()
        finally:
            self.lock.release()
        return Summary(
            failures=int(count),
            failing=tuple(_failure(row) for row in rows),
            refused=from_sql(refused[0]) if refused and refused[0] else None,
            oldest_pending=None if oldest is None else float(oldest[0]),
        )

    def close(self) -> None:
        """Checkpoint and close; idempotent."""
        with self._read_lock:
            if self._read_db is not None:
                self._read_db.close()
                self._read_db = None
        with self.lock:
            db = getattr(self, "db", None)
            if db is not None:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db.close()
                self.db = None  # type: ignore[assignment]
        self._release_lock()

    def __enter__(self) -> State:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _failure(row: tuple[Any, ...]) -> Failure:
    """A row of the failures table as a `Failure`."""
    key, op, reason, *rest = row
    return Failure(from_sql(key), op, from_sql(reason), *rest)
