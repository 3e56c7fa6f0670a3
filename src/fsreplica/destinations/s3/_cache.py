"""What is known of each object between runs, so a no-change listing costs LIST requests only.

S3 lists key, size, ETag and date but no user metadata; without this cache every run would pay
a HEAD per object to learn mtime, mode and hash. Entries are valid only while the LIST shows the
same ETag and size (and, once seen, the same date), so a change by anyone else is noticed. It is
a cache: written without fsync, and a lost, corrupt or busy file (another fsreplica process
using the same destination) only costs HEADs again, never an error.
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
)
"""


def default_path(identity: str) -> Path:
    """The cache file for a destination identity (endpoint, bucket, prefix) under XDG's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    name = hashlib.sha256(identity.encode()).hexdigest()[:24]
    return Path(base) / "fsreplica" / "s3" / f"{name}.sqlite"


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
        self._pending = 0
        target = ":memory:"
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            target = os.fspath(path)
        try:
            self._db = self._open(target)
        except sqlite3.DatabaseError:
            # A corrupt cache is worth nothing: start again.
            Path(target).unlink(missing_ok=True)
            self._db = self._open(target)

    @staticmethod
    def _open(target: str) -> sqlite3.Connection:
        db = sqlite3.connect(
            target, check_same_thread=False, isolation_level="DEFERRED", timeout=0.05
        )
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(_SCHEMA)
        db.commit()
        return db

    def get(self, key: str, etag: str | None, size: int, modified: str) -> ObjectInfo | None:
        """The cached info of `key` if the listed ETag, size and date still match."""
        with self._lock, _quiet():
            row = self._db.execute(
                "SELECT etag, size, modified, mtime_ns, mode, sha256 FROM objects WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None or row[0] != etag or row[1] != size:
                return None
            if row[2] is not None and row[2] != modified:
                return None
            info = ObjectInfo(key, size, row[3], row[4], row[5])
            if row[2] is None:
                # First listing since our own put: adopt the date the store gave it.
                self._db.execute("UPDATE objects SET modified = ? WHERE key = ?", (modified, key))
                self._dirty()
            return info
        return None

    def put(self, info: ObjectInfo, etag: str | None, modified: str | None = None) -> None:
        """Remember `info` as stored with `etag` (forget the key when the ETag is unknown)."""
        with self._lock, _quiet():
            if etag is None:
                self._db.execute("DELETE FROM objects WHERE key = ?", (info.key,))
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (info.key, etag, info.size, modified, info.mtime_ns, info.mode, info.sha256),
                )
            self._dirty()

    def etag(self, key: str) -> str | None:
        """The ETag last seen for `key`, if any."""
        with self._lock, _quiet():
            row = self._db.execute("SELECT etag FROM objects WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])
        return None

    def forget(self, key: str) -> None:
        """Drop `key`."""
        with self._lock, _quiet():
            self._db.execute("DELETE FROM objects WHERE key = ?", (key,))
            self._dirty()

    def _dirty(self) -> None:
        self._pending += 1
        if self._pending >= COMMIT_EVERY:
            self._db.commit()
            self._pending = 0

    def flush(self) -> None:
        """Write pending entries to the file."""
        with self._lock, _quiet():
            self._db.commit()
            self._pending = 0

    def close(self) -> None:
        """Flush and close; idempotent."""
        with self._lock:
            db, self._db = self._db, None  # type: ignore[assignment]
        if db is not None:
            with _quiet():
                db.commit()
            db.close()
