"""What is known of each object between runs, so a no-change listing costs LIST requests only.

An object store's listing (through obstore) gives key, size, ETag and date but no user metadata;
without this cache every run would pay a HEAD per object to learn mtime, mode and hash. Entries
are valid only while the LIST shows the same ETag and size (and, once seen, the same date), so a
change by anyone else is noticed. It is
a cache: written without fsync, and a lost, corrupt or busy file (another fsreplica process
using the same destination) only costs HEADs again, never an error.

The file is read whole on first use into a dict, and changes are written back in batches: a
query and an insert per object cost more CPU than the PUT request itself (see
docs/benchmarks.md). An entry the file lost is only a HEAD at the next run.

It lists every key, size and hash of the bucket: the file is 0600 (SQLite gives its -wal and
-shm the database's mode) and the directories made for it are 0700, whatever the umask, as the
state files are.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from fsreplica.destinations._base import ObjectInfo

COMMIT_EVERY = 1000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY, etag TEXT NOT NULL, size INTEGER NOT NULL, modified TEXT,
    mtime_ns INTEGER NOT NULL, mode INTEGER, sha256 TEXT
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# (etag, size, modified, mtime_ns, mode, sha256), as the columns after the key.
_Row = tuple[str, int, str | None, int, int | None, str | None]


def default_path(identity: str, *, kind: str = "s3") -> Path:
    """The cache file for a destination identity (endpoint, bucket, prefix) under XDG's cache.

    Args:
        identity: What tells the destination apart from every other one of its kind.
        kind: The directory of the destination's kind ("s3", "azure").
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    name = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return Path(base) / "fsreplica" / kind / f"{name}.sqlite"


def same_etag(one: str | None, other: str | None) -> bool:
    """Whether two ETags name the same version (Azure lists them without the quotes of a HEAD)."""
    if one is None or other is None:
        return one is other
    return one.strip('"') == other.strip('"')


def _private_dirs(path: str) -> None:
    """Create the directory `path` and its missing parents, each 0700 whatever the umask."""
    missing = []
    while path and not os.path.isdir(path):
        missing.append(path)
        path = os.path.dirname(path)
    for each in reversed(missing):
        try:
            os.mkdir(each, 0o700)
        except FileExistsError:
            continue
        os.chmod(each, 0o700)  # a umask such as 0277 takes bits from mkdir's mode


def _private_file(path: str, *, create: bool) -> None:
    """Make the file `path` 0600 (creating it, if `create`), never through a symlink."""
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o600)
    except FileNotFoundError:
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow SQLite errors: a busy or broken cache must never fail a transfer."""
    try:
        yield
    except sqlite3.Error:
        pass


class MetadataCache:
    """key -> (etag, size, date, ObjectInfo), in memory and optionally in a SQLite file.

    Args:
        path: The file, or None to keep the cache in memory only.
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, _Row] | None = None  # read on first use
        self._dirty: dict[str, _Row | None] = {}  # None: delete
        self._db: sqlite3.Connection | None = None
        if path is None:
            return
        target = os.fspath(path)
        try:
            _private_dirs(os.path.dirname(os.path.abspath(target)))
            try:
                self._db = self._open(target)
            except sqlite3.DatabaseError:
                # A corrupt cache is worth nothing: start again.
                Path(target).unlink(missing_ok=True)
                self._db = self._open(target)
        except OSError:
            self._db = None  # cannot be made (private): keep the cache in memory only

    @staticmethod
    def _open(target: str) -> sqlite3.Connection:
        # SQLite gives new -wal and -shm files the database's mode; ones already there (left by
        # a process that stopped) may have been made with another, so they are made 0600 too.
        for suffix in ("", "-wal", "-shm"):
            _private_file(target + suffix, create=not suffix)
        db = sqlite3.connect(
            target, check_same_thread=False, isolation_level="DEFERRED", timeout=0.05
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(_SCHEMA)
        db.commit()
        return db

    def _loaded(self) -> dict[str, _Row]:
        """Every entry by key, read from the file on the first call; with the lock held."""
        rows = self._rows
        if rows is None:
            rows = {}
            if self._db is not None:
                with _quiet():
                    query = "SELECT key, etag, size, modified, mtime_ns, mode, sha256 FROM objects"
                    for row in self._db.execute(query):
                        rows[row[0]] = row[1:]
            self._rows = rows
        return rows

    def get(self, key: str, etag: str | None, size: int, modified: str) -> ObjectInfo | None:
        """The cached info of `key` if the listed ETag, size and date still match."""
        with self._lock:
            rows = self._loaded()
            row = rows.get(key)
            if row is None or not same_etag(row[0], etag) or row[1] != size:
                return None
            if row[2] is not None and row[2] != modified:
                return None
            if row[2] is None:
                # First listing since our own put: adopt the date the store gave it.
                row = (row[0], row[1], modified, row[3], row[4], row[5])
                rows[key] = row
                self._set(key, row)
            return ObjectInfo(key, size, row[3], row[4], row[5])

    def put(self, info: ObjectInfo, etag: str | None, modified: str | None = None) -> None:
        """Remember `info` as stored with `etag` (forget the key when the ETag is unknown)."""
        with self._lock:
            if etag is None:
                self._loaded().pop(info.key, None)
                self._set(info.key, None)
            else:
                row = (etag, info.size, modified, info.mtime_ns, info.mode, info.sha256)
                self._loaded()[info.key] = row
                self._set(info.key, row)

    def etag(self, key: str) -> str | None:
        """The ETag last seen for `key`, if any."""
        with self._lock:
            row = self._loaded().get(key)
        return None if row is None else row[0]

    def forget(self, key: str) -> None:
        """Drop `key`."""
        with self._lock:
            self._loaded().pop(key, None)
            self._set(key, None)

    def _set(self, key: str, row: _Row | None) -> None:
        """Note a change to write back; with the lock held."""
        if self._db is None:
            return
        self._dirty[key] = row
        if len(self._dirty) >= COMMIT_EVERY:
            self._write()

    def _write(self) -> None:
        """Write the pending changes in one transaction; with the lock held."""
        dirty, self._dirty = self._dirty, {}
        if not dirty or self._db is None:
            return
        with _quiet():
            gone = [(key,) for key, row in dirty.items() if row is None]
            kept = [(key, *row) for key, row in dirty.items() if row is not None]
            if gone:
                self._db.executemany("DELETE FROM objects WHERE key = ?", gone)
            if kept:
                self._db.executemany(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)", kept
                )
            self._db.commit()

    def get_meta(self, name: str) -> str | None:
        """A value stored by `set_meta`, or None."""
        with self._lock:
            if self._db is None:
                return None
            with _quiet():
                row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
                return None if row is None else str(row[0])
        return None

    def set_meta(self, name: str, value: str) -> None:
        """Store a value under `name` (written at once)."""
        with self._lock:
            if self._db is None:
                return
            with _quiet():
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
                self._db.commit()

    def flush(self) -> None:
        """Write pending entries to the file."""
        with self._lock:
            self._write()

    def close(self) -> None:
        """Flush and close; idempotent."""
        with self._lock:
            self._write()
            db, self._db = self._db, None
        if db is not None:
            db.close()
