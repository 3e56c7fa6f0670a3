"""Reconcile as a stream: the three sides compared side by side in key order (rclone's march).

The source walk, the destination listing and the state's records each come sorted by key. They
are read a window at a time: each side is read up to `WINDOW` keys ahead, and every key up to
the smallest last key read (the window's bound) is decided at once, by a join in memory of the
three sides' keys up to that bound. Memory holds a window of each side instead of three copies of
the tree, and each task is handed on as soon as it is decided, while the walk goes on.

Deletions are decided last: the guard compares them with the whole destination, whose size is
known only once it has been listed, so keys found only at the destination are held (keys only)
until the end.

Two kinds of keys are compared at the end instead of in the stream:

- Names that are not their own store key (bytes that are not UTF-8, controls; see
  `fsreplica._names.in_key_order`): each side sorts them its own way, so every side sets them
  aside, and they are joined once all is read. Memory grows with how many there are.
- Keys a side yields out of order (a destination need not list in order; a file replaced by a
  directory while the source is walked): the other sides' counterparts were decided without
  them. A late destination key is looked up in the source as it is then (a copy of a file the
  source has was queued already; a key the source lacks is to delete); a late source key is
  copied, and taken out of the deletions.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from fsreplica._names import in_key_order
from fsreplica.destinations import ObjectInfo
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.engine import Mode, Task
from fsreplica.replicate.guard import refusal
from fsreplica.replicate.state import FileRecord

if TYPE_CHECKING:
    import os

    from fsreplica.replicate.reconcile import SourceTree

WINDOW = 1000
"""Keys read ahead on each side."""

V = TypeVar("V")


@dataclass
class Plan:
    """What a reconcile will do (or, when it streamed its tasks, did).

    Attributes:
        tasks: Puts, adoptions and checks for the engine (empty when each was handed on as it
            was decided).
        deletes: Keys only at the destination that will be deleted.
        unchanged: Keys already in place.
        forget: State records of keys gone from both sides.
        skipped: From the source walk.
        unreadable: From the source walk.
        refused: Why deletions were refused, if they were.
        source_count: Regular files (and symlinks, when copied) in the source.
        dest_count: Objects at the destination.
        excluded: Source entries the default ignore patterns left out.
        queued: Tasks handed on as they were decided.
        complete: False when the reconcile was stopped before it had read every side: nothing
            is to be deleted or forgotten then.
    """

    tasks: list[Task] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    unchanged: int = 0
    forget: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    refused: str | None = None
    source_count: int = 0
    dest_count: int = 0
    excluded: int = 0
    queued: int = 0
    complete: bool = True

    def delete_tasks(self) -> list[Task]:
        """The deletions as tasks."""
        return [Task(key, mode=Mode.DELETE) for key in self.deletes]


Check = Callable[[Plan, "dict[str, os.stat_result]", dict[str, ObjectInfo]], None]
"""Looks again at files found on both sides (a window's plan, its files, its listing), as
`--checksum` does: turns each that differs into a copy, in the plan."""


class _Side(Generic[V]):
    """One side of the march: its keys in order, read up to a window ahead."""

    def __init__(self, items: Iterable[tuple[str, V]]) -> None:
        self._items = iter(items)
        self.keys: list[str] = []
        self.values: list[V] = []
        self.aside: dict[str, V] = {}  # names each side sorts its own way
        self.late: dict[str, V] = {}  # keys that came out of order
        self.done = False
        self._last = ""  # no key is empty

    def fill(self, n: int) -> None:
        """Read until `n` keys are held in order, or the side is done."""
        keys, values, aside, late = self.keys, self.values, self.aside, self.late
        last = self._last
        while not self.done and len(keys) < n:
            want = n - len(keys)
            got = 0
            for key, value in islice(self._items, want):
                got += 1
                if not in_key_order(key):
                    aside[key] = value
                elif key > last:
                    keys.append(key)
                    values.append(value)
                    last = key
                else:
                    late[key] = value
            self.done = got < want
        self._last = last

    def take(self, bound: str | None) -> dict[str, V]:
        """Remove and return the keys held up to `bound` (None: all), with their values."""
        cut = len(self.keys) if bound is None else bisect_right(self.keys, bound)
        taken = dict(zip(self.keys[:cut], self.values[:cut], strict=True))
        del self.keys[:cut], self.values[:cut]
        return taken


def march(
    source: Iterable[tuple[str, os.stat_result | str]],
    dest: Iterable[ObjectInfo],
    records: Iterable[FileRecord],
    *,
    tree: SourceTree,
    rules: IgnoreRules,
    delete: bool,
    max_delete: int | None,
    present: Callable[[str], bool],
    links: bool = False,
    submit: Callable[[list[Task]], None] | None = None,
    check: Check | None = None,
    stopped: Callable[[], bool] | None = None,
    window: int = WINDOW,
) -> Plan:
    """Compare the three sides, each in key order, and decide what to do.

    Args:
        source: The source's regular files (and symlinks, with `links`) by key, in key order.
        dest: The destination's objects in key order (out of order costs a copy at most).
        records: The state's records in key order.
        tree: Where the walk of `source` notes what it skipped, could not read or left out; read
            once `source` is exhausted.
        rules: Ignore rules; ignored keys at the destination are left alone.
        delete: Delete keys found only at the destination.
        max_delete: Deletions allowed; None for the default guard (refuse when the source is
            empty or when more than half of the destination would go).
        present: Whether the source has a file (or, with `links`, a symlink) under a key now:
            asked only for destination keys that came out of order.
        links: Symlinks are copied: a source entry may be a symlink's target, a destination
            object a symlink (`link`); a link that differs is put again.
        submit: Called with the tasks of each window as soon as they are decided; None to
            collect them in `tasks`.
        check: Looks again at each window's files found on both sides (`--checksum`).
        stopped: Asked before each window; when it returns True, the march ends early and the
            plan is not `complete`.
        window: Keys read ahead on each side.
    """
    plan = Plan()
    src: _Side[os.stat_result | str] = _Side(source)
    dst: _Side[ObjectInfo] = _Side((info.key, info) for info in dest)
    rec: _Side[FileRecord] = _Side((r.key, r) for r in records)
    sides: list[_Side[Any]] = [src, dst, rec]
    judge = _Judge(plan, rules=rules, links=links, submit=submit, check=check)
    try:
        while True:
            if stopped is not None and stopped():
                plan.complete = False
                return plan
            for side in sides:
                side.fill(window)
            bounds = [side.keys[-1] for side in sides if not side.done]
            bound = min(bounds) if bounds else None
            judge.window(src.take(bound), dst.take(bound), rec.take(bound))
            if bound is None:
                break
        judge.window(src.aside, dst.aside, rec.aside)
    finally:
        for items in (source, dest, records):
            if isinstance(items, Generator):
                items.close()  # left unread: an S3 listing's prefetch thread ends now
    judge.settle(tree, dst.late, src.late, present=present, delete=delete, max_delete=max_delete)
    return plan


class _Judge:
    """Decides the keys of one window after another, into `plan`."""

    def __init__(
        self,
        plan: Plan,
        *,
        rules: IgnoreRules,
        links: bool,
        submit: Callable[[list[Task]], None] | None,
        check: Check | None,
    ) -> None:
        self.plan = plan
        self.rules = rules
        self.links = links
        self.submit = submit
        self.check = check
        self.extra: set[str] = set()  # keys only at the destination, held until the end
        self.forget: list[str] = []

    def emit(self, tasks: list[Task]) -> None:
        """Hand `tasks` on (or collect them)."""
        if self.submit is None:
            self.plan.tasks.extend(tasks)
        elif tasks:
            self.submit(tasks)
            self.plan.queued += len(tasks)

    def settle(
        self,
        tree: SourceTree,
        dest_late: Iterable[str],
        source_late: Iterable[str],
        *,
        present: Callable[[str], bool],
        delete: bool,
        max_delete: int | None,
    ) -> None:
        """Once every side is read: keys that came out of order, then the deletions."""
        plan = self.plan
        # Decided against the source as it is now (see the module's docstring).
        for key in dest_late:
            plan.dest_count += 1
            if not self.rules.key(key) and not present(key):
                self.extra.add(key)
        late = [Task(key, mode=Mode.FORCE) for key in source_late]
        plan.source_count += len(late)
        self.extra.difference_update(task.key for task in late)
        self.emit(late)
        plan.skipped = tree.skipped
        plan.unreadable = tree.unreadable
        plan.excluded = tree.excluded
        plan.forget = sorted(self.forget)
        blocked = tuple(f"{key}/" for key, _ in tree.unreadable)
        extra = sorted(key for key in self.extra if not key.startswith(blocked))
        if extra and delete:
            plan.refused = refusal(
                len(extra),
                source_empty=plan.source_count == 0,
                dest_count=plan.dest_count,
                max_delete=max_delete,
            )
            if plan.refused is None:
                plan.deletes = extra

    def window(
        self,
        entries: dict[str, os.stat_result | str],
        infos: dict[str, ObjectInfo],
        records: dict[str, FileRecord],
    ) -> None:
        """Decide every key of one window (each side's keys up to the same bound)."""
        if self.links:
            files = {k: v for k, v in entries.items() if v.__class__ is not str}
            links = {k: v for k, v in entries.items() if v.__class__ is str}
            listing = {k: i for k, i in infos.items() if i.link is None}
            dest_links = {k: i.link for k, i in infos.items() if i.link is not None}
        else:
            files = entries
            links, listing, dest_links = {}, infos, {}
        part = decide(cast("dict[str, os.stat_result]", files), listing, records)
        for key, target in links.items():
            if dest_links.get(key) == target:
                part.unchanged += 1
            else:
                part.tasks.append(Task(key, mode=Mode.FORCE))
        if self.check is not None and files and listing:
            self.check(part, cast("dict[str, os.stat_result]", files), listing)
        plan = self.plan
        plan.unchanged += part.unchanged
        plan.source_count += len(entries)
        plan.dest_count += len(infos)
        rules = self.rules
        self.extra.update(key for key in infos.keys() - entries.keys() if not rules.key(key))
        self.forget.extend(records.keys() - files.keys() - listing.keys())
        self.emit(part.tasks)


def decide(
    files: dict[str, os.stat_result],
    listing: dict[str, ObjectInfo],
    records: dict[str, FileRecord],
) -> Plan:
    """The tasks for the source's regular files, and how many are in place already.

    The decision of one key, for one window of keys at a time: a file the destination lacks
    is copied; one the destination holds as the state recorded it is unchanged when the source
    is untouched since, else compared with the state (`Mode.SYNC`); one recorded otherwise, or
    not at all, is adopted after a hash check when its size and mtime match, else copied.

    Args:
        files: The source's regular files.
        listing: The destination's objects that are not symlinks.
        records: The state's records.
    """
    tasks: list[Task] = []
    get_info = listing.get
    get_rec = records.get
    unchanged = 0
    # The hot loop of a no-change re-sync: comparisons inlined (the destination holds what was
    # recorded; the source is untouched, as FileRecord.same_stat), no call per file.
    for key, st in files.items():
        info = get_info(key)
        if info is None:
            tasks.append(Task(key, mode=Mode.FORCE))
            continue
        rec = get_rec(key)
        if (
            rec is not None
            and info.size == rec.size
            and info.mtime_ns == rec.dest_mtime_ns
            and (info.sha256 is None or rec.sha256 is None or info.sha256 == rec.sha256)
        ):
            if (
                st.st_mtime_ns == rec.mtime_ns
                and st.st_size == rec.size
                and st.st_ctime_ns == rec.ctime_ns
                and st.st_ino == rec.inode
                and (st.st_mode & 0o7777) == rec.mode
            ):
                unchanged += 1
            else:
                tasks.append(Task(key, mode=Mode.SYNC))
        elif info.size == st.st_size and info.mtime_ns == st.st_mtime_ns:
            tasks.append(Task(key, mode=Mode.ADOPT, dest_info=info))
        else:
            tasks.append(Task(key, mode=Mode.FORCE))
    return Plan(tasks=tasks, unchanged=unchanged)


__all__ = ["WINDOW", "Check", "Plan", "decide", "march"]
