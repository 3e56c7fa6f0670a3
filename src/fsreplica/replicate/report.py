"""What a replication did: a live, thread-safe tally and its snapshots."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from fsreplica.filters import DEFAULT_IGNORE


@dataclass
class SyncReport:
    """What a replication did (a snapshot: nothing updates it once returned).

    Attributes:
        files_copied: Files sent to the destination.
        bytes_copied: Their bytes.
        deleted: Keys removed from the destination.
        renamed: Files renamed at the destination instead of being sent again.
        metadata_updated: Files touched or chmod-ed whose content was unchanged (not re-sent).
        unchanged: Files found already in place.
        skipped: (key, why) of source entries that are not regular files.
        failed: (key, cause) of files that could not be replicated.
        refused: Why deletions were refused by a safety guard, if they were.
        excluded: Source entries the default ignore patterns left out (a directory once).
        expected: Outcomes to expect so far: each task a reconcile queued, and the files it
            found in place or could not read; it grows while the reconcile walks (see
            `Replicator.progress`).
    """

    files_copied: int = 0
    bytes_copied: int = 0
    deleted: int = 0
    renamed: int = 0
    metadata_updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: str | None = None
    excluded: int = 0
    expected: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed and no deletion was refused."""
        return not self.failed and self.refused is None

    def summary(self) -> str:
        """One line for people."""
        parts = [
            f"{self.files_copied} copied ({human(self.bytes_copied)})",
            f"{self.deleted} deleted",
            f"{self.renamed} renamed",
            f"{self.unchanged + self.metadata_updated} unchanged",
        ]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        parts.append(f"{len(self.failed)} failed")
        if self.excluded:
            parts.append(excluded_note(self.excluded))
        return ", ".join(parts)


def excluded_note(count: int) -> str:
    """Say that the default ignore patterns left out `count` source entries, and how not to."""
    return (
        f"{count} excluded by the default patterns ({' '.join(DEFAULT_IGNORE)}; "
        "--no-default-excludes to include them)"
    )


class Report:
    """The tally of a replication as it runs; every method may be called from any thread.

    The workers count what they do through its methods; readers take a `snapshot()`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tally = SyncReport()

    def reset(self) -> None:
        """Start a new tally (a new sync, or the first reconcile of real-time replication)."""
        with self._lock:
            self._tally = SyncReport()

    def snapshot(self) -> SyncReport:
        """A copy of the tally as it is now."""
        with self._lock:
            t = self._tally
            return dataclasses.replace(t, skipped=list(t.skipped), failed=list(t.failed))

    def copied(self, n: int = 1, size: int = 0) -> None:
        """`n` files of `size` bytes in all were sent to the destination."""
        with self._lock:
            self._tally.files_copied += n
            self._tally.bytes_copied += size

    def deleted(self) -> None:
        """A key was removed from the destination."""
        with self._lock:
            self._tally.deleted += 1

    def renamed(self) -> None:
        """A file was renamed at the destination instead of being sent again."""
        with self._lock:
            self._tally.renamed += 1

    def metadata_updated(self) -> None:
        """A file's metadata was brought up to date; its content was already in place."""
        with self._lock:
            self._tally.metadata_updated += 1

    def unchanged(self, n: int = 1) -> None:
        """`n` files were found already in place."""
        with self._lock:
            self._tally.unchanged += n

    def skipped(self, entries: Iterable[tuple[str, str]]) -> None:
        """Source entries that are not regular files, as (key, why)."""
        with self._lock:
            self._tally.skipped.extend(entries)

    def failed(self, key: str, cause: str) -> None:
        """`key` could not be replicated because of `cause`."""
        with self._lock:
            self._tally.failed.append((key, cause))

    def excluded(self, count: int) -> None:
        """The last walk of the source left out `count` entries by the default patterns."""
        with self._lock:
            self._tally.excluded = count

    def expect(self, n: int) -> None:
        """`n` more outcomes are to come (tasks queued, files found in place or unreadable)."""
        with self._lock:
            self._tally.expected += n

    def refused(self, reason: str | None) -> None:
        """Say why a reconcile's deletions were refused (None: they were not)."""
        with self._lock:
            self._tally.refused = reason


def human(size: float) -> str:
    """A size in bytes for people: "512 B", "1.5 MiB"."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover
