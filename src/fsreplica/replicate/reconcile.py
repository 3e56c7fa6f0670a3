"""Three-way reconcile: the source tree, the destination listing and the state.

Source only -> put; destination only -> delete (guarded); both -> compare size, mtime_ns and the
recorded hash, and copy only what changed. The result is a plan of tasks for the engine; every
task re-reads the disk when it runs, so a plan made from a slightly older scan is still safe.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field

from fsreplica._names import shown
from fsreplica.destinations import Destination, ObjectInfo, features_of
from fsreplica.destinations._source import _kind
from fsreplica.errors import ReconcileError
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.engine import Mode, Task
from fsreplica.replicate.guard import refusal
from fsreplica.replicate.state import FileRecord


@dataclass
class SourceTree:
    """What a walk of the source found.

    Attributes:
        files: Regular files by key.
        links: Symlinks by key, with their target text (only when walked with `links`).
        skipped: (key, kind) of entries that are not regular files or directories.
        unreadable: (key, cause) of directories that could not be listed; keys below them are
            never deleted from the destination.
        excluded: Entries (a directory counts once) left out by the walk's `defaults` rules.
    """

    files: dict[str, os.stat_result] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    excluded: int = 0


def walk_source(
    root: str, rules: IgnoreRules, *, links: bool = False, defaults: IgnoreRules | None = None
) -> SourceTree:
    """Walk `root` with os.scandir, never following symlinks, skipping ignored names.

    With `links`, symlinks are collected with their target text (never resolved) instead of
    being skipped. A directory that vanishes between its parent's listing and its own is gone,
    not unreadable. Ignored entries that `defaults` (the default patterns, part of `rules`)
    matches are counted in `excluded`, so that the user can be told about them.

    Raises:
        ReconcileError: `root` is missing or not a readable directory.
    """
    tree = SourceTree()
    try:
        if not stat.S_ISDIR(os.stat(root).st_mode):
            raise ReconcileError(root, "source is not a directory")
    except OSError as exc:
        raise ReconcileError(root, f"source {(exc.strerror or str(exc)).lower()}") from exc
    files = tree.files
    child = rules.child
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                entries = list(it)
        except OSError as exc:
            if not rel:
                raise ReconcileError(root, (exc.strerror or str(exc)).lower()) from exc
            if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                continue  # removed (or replaced by a file) since its parent was listed
            tree.unreadable.append((rel, (exc.strerror or str(exc)).lower()))
            continue
        for entry in entries:
            if child(rel, entry.name):
                if defaults is not None and defaults.child(rel, entry.name):
                    tree.excluded += 1
                continue
            key = f"{rel}/{entry.name}" if rel else entry.name
            try:
                # The entry's type comes with the listing: a directory needs no stat call.
                if entry.is_dir(follow_symlinks=False):
                    stack.append(key)
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                tree.unreadable.append((key, (exc.strerror or str(exc)).lower()))
                continue
            if stat.S_ISREG(st.st_mode):
                files[key] = st
            elif stat.S_ISDIR(st.st_mode):
                stack.append(key)  # replaced by a directory since it was listed
            elif links and stat.S_ISLNK(st.st_mode):
                try:
                    tree.links[key] = os.readlink(os.path.join(root, key))
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    tree.unreadable.append((key, (exc.strerror or str(exc)).lower()))
            else:
                tree.skipped.append((key, _kind(st.st_mode)))
    return tree


@dataclass
class Plan:
    """What a reconcile will do.

    Attributes:
        tasks: Puts, adoptions and checks for the engine.
        deletes: Keys only at the destination that will be deleted.
        unchanged: Keys already in place.
        forget: State records of keys gone from both sides.
        skipped: From the source walk.
        unreadable: From the source walk.
        refused: Why deletions were refused, if they were.
        source_count: Regular files in the source.
        dest_count: Objects at the destination.
        excluded: Source entries the default ignore patterns left out.
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

    def delete_tasks(self) -> list[Task]:
        """The deletions as tasks."""
        return [Task(key, mode=Mode.DELETE) for key in self.deletes]


def make_plan(
    tree: SourceTree,
    listing: dict[str, ObjectInfo],
    records: dict[str, FileRecord],
    *,
    rules: IgnoreRules,
    delete: bool,
    max_delete: int | None,
    dest_links: dict[str, str] | None = None,
) -> Plan:
    """Compare the three sides and decide what to do.

    Args:
        tree: The source walk.
        listing: The destination's objects by key.
        records: The state's records by key.
        rules: Ignore rules; ignored keys at the destination are left alone.
        delete: Delete keys found only at the destination.
        max_delete: Deletions allowed; None for the default guard (refuse when the source is
            empty or when more than half of the destination would go).
        dest_links: The destination's symlinks and their targets, when symlinks are copied
            (`tree.links`): a link that differs is put again, one gone from the source deleted.
    """
    plan = Plan(
        skipped=tree.skipped,
        unreadable=tree.unreadable,
        source_count=len(tree.files),
        dest_count=len(listing),
        excluded=tree.excluded,
    )
    files = tree.files
    tasks = plan.tasks
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
    plan.unchanged = unchanged
    dest_links = dest_links or {}
    links = tree.links
    for key, target in links.items():
        if dest_links.get(key) != target:
            tasks.append(Task(key, mode=Mode.FORCE))
        else:
            plan.unchanged += 1
    plan.source_count += len(links)
    plan.dest_count += len(dest_links)
    blocked = tuple(f"{key}/" for key, _ in tree.unreadable)
    extra = [
        key
        for key in (listing.keys() | dest_links.keys()) - files.keys() - links.keys()
        if not rules.key(key) and not key.startswith(blocked)
    ]
    plan.forget = sorted(records.keys() - files.keys() - listing.keys())
    if extra and delete:
        plan.refused = refusal(
            len(extra),
            source_empty=plan.source_count == 0,
            dest_count=plan.dest_count,
            max_delete=max_delete,
        )
        if plan.refused is None:
            plan.deletes = sorted(extra)
    return plan


def check_overlap(source: str, destination: Destination | str) -> None:
    """Refuse a local destination (or path) inside the source, or the source inside it.

    Raises:
        ReconcileError: The trees overlap.
    """
    dest_root = destination if isinstance(destination, str) else features_of(destination).local_root
    if dest_root is None:
        return
    src = os.path.realpath(source)
    dst = os.path.realpath(dest_root)
    if src == dst:
        raise ReconcileError(source, "source and destination are the same directory")
    if dst.startswith(src.rstrip("/") + "/"):
        raise ReconcileError(source, f"destination {dest_root} is inside the source")
    if src.startswith(dst.rstrip("/") + "/"):
        raise ReconcileError(source, f"source is inside the destination {dest_root}")


def log_plan(plan: Plan, root: str, log: logging.Logger) -> None:
    """Log skipped entries, unreadable directories and refusals, one line each.

    Symlinks are one count line (they are skipped by choice, see --links), each at DEBUG.
    """
    links = 0
    for key, kind in plan.skipped:
        if kind == "symlink":
            links += 1
            log.debug("skip %s: symlink", shown(os.path.join(root, key)))
            continue
        log.warning("skip %s: not a regular file (%s)", shown(os.path.join(root, key)), kind)
    if links:
        log.warning(
            "%d symlink%s skipped; --links to copy them as symlinks", links, "s"[: links != 1]
        )
    for key, cause in plan.unreadable:
        log.warning("scan %s: %s", shown(os.path.join(root, key)), cause)
    if plan.refused:
        log.error("refusing to delete: %s", plan.refused)
