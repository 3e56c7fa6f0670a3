"""What a restore did: a live, thread-safe tally and the report it ends with."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

from fsreplica.replicate.report import human
from fsreplica.restore.compare import Action


@dataclass
class RestoreReport:
    """What a restore did (a snapshot).

    Attributes:
        restored: Files and symlinks fetched and put in place (created or replaced).
        bytes_restored: Their bytes.
        metadata: Files whose content was in place, given the stored mode and mtime.
        unchanged: Files already as stored.
        kept: Files left as they were by `--overwrite never`.
        verified: Files re-read after writing and found as stored (`--verify`).
        failed: (key, reason) of what could not be restored (refused keys too).
        excluded: Keys left out by the selection.
        expected: How many objects the plan holds (for progress).
        planned: With a dry run, (action, key) of each object, in key order.
    """

    restored: int = 0
    bytes_restored: int = 0
    metadata: int = 0
    unchanged: int = 0
    kept: int = 0
    verified: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    excluded: int = 0
    expected: int = 0
    planned: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    @property
    def done(self) -> int:
        """Objects dealt with so far, failures included."""
        return self.restored + self.metadata + self.unchanged + self.kept + len(self.failed)

    def summary(self, *, dry_run: bool = False) -> str:
        """One line for people."""
        if dry_run:
            counts: dict[str, int] = {}
            for action, _ in self.planned:
                counts[action] = counts.get(action, 0) + 1
            parts = [f"{counts.get(a.value, 0)} to {a.value}" for a in _DRY_ACTIONS]
            parts += [f"{self.unchanged} unchanged", f"{len(self.failed)} refused"]
        else:
            parts = [f"{self.restored} restored ({human(self.bytes_restored)})"]
            if self.metadata:
                parts.append(f"{self.metadata} with mode or mtime fixed")
            parts.append(f"{self.unchanged} unchanged")
            if self.kept:
                parts.append(f"{self.kept} kept")
            if self.verified:
                parts.append(f"{self.verified} verified")
            parts.append(f"{len(self.failed)} failed")
        if self.excluded:
            parts.append(f"{self.excluded} excluded")
        return ("dry run: " if dry_run else "") + ", ".join(parts)


_DRY_ACTIONS = (Action.CREATE, Action.REPLACE, Action.METADATA, Action.KEEP)


class Tally:
    """The report of a restore as it runs; every method may be called from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._report = RestoreReport()

    def expect(self, count: int, *, excluded: int) -> None:
        """Record the size of the plan."""
        with self._lock:
            self._report.expected = count
            self._report.excluded = excluded

    def count(self, action: Action, *, size: int = 0, verified: bool = False) -> None:
        """Record one object dealt with."""
        with self._lock:
            r = self._report
            if action in (Action.CREATE, Action.REPLACE):
                r.restored += 1
                r.bytes_restored += size
            elif action is Action.METADATA:
                r.metadata += 1
            elif action is Action.UNCHANGED:
                r.unchanged += 1
            else:
                r.kept += 1
            r.verified += verified

    def plan(self, action: Action, key: str) -> None:
        """Record what a dry run would do with `key`."""
        with self._lock:
            if action is Action.UNCHANGED:
                self._report.unchanged += 1
            else:
                self._report.planned.append((action.value, key))

    def fail(self, key: str, reason: str) -> None:
        """Record a failure."""
        with self._lock:
            self._report.failed.append((key, reason))

    def snapshot(self) -> RestoreReport:
        """A copy of the report as it is now, its lists in the order of their keys' bytes."""
        with self._lock:
            r = self._report
            failed = sorted(r.failed, key=lambda pair: _order(pair[0]))
            planned = sorted(r.planned, key=lambda pair: _order(pair[1]))
            return dataclasses.replace(r, failed=failed, planned=planned)


def _order(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")
