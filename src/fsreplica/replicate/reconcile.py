"""Three-way reconcile: the source tree, the destination listing and the state.

Source only -> put; destination only -> delete (guarded); both -> compare size, mtime_ns and the
recorded hash, and copy only what changed. The sides are walked in key order and compared side
by side by `march`, which hands each task on as it decides it; every task re-reads the disk when
it runs, so a decision made from a slightly older scan is still safe. This module walks the
source, chooses the destination's listing, and logs what a reconcile found.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from fsreplica._names import shown
from fsreplica._oserrors import cause_of
from fsreplica.destinations import Destination, Features, ObjectInfo, features_of
from fsreplica.destinations._source import _kind
from fsreplica.errors import ReconcileError
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.march import Plan


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


_ROOT = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_BELOW = _ROOT | os.O_NOFOLLOW


def scan_source(
    root: str,
    rules: IgnoreRules,
    *,
    tree: SourceTree,
    links: bool = False,
    defaults: IgnoreRules | None = None,
) -> Iterator[tuple[str, os.stat_result | str]]:
    """Yield the regular files under `root` and their stats in key order; never follow symlinks.

    Each directory is listed once with os.scandir and its entries sorted, a directory's name
    with a '/' after it, so that the keys come in the order of their UTF-8 bytes (as an S3
    listing has them; see `fsreplica.replicate.march`). Ignored names are skipped. With
    `links`, symlinks are yielded too, with their target text (never resolved) instead of a
    stat. What is neither, what cannot be read, and what `defaults` (the default patterns, part
    of `rules`) leaves out are noted in `tree` as the walk goes. A directory that vanishes
    between its parent's listing and its own is gone, not unreadable.

    Raises:
        ReconcileError: `root` is missing or not a readable directory (at the first item).
    """
    try:
        if not stat.S_ISDIR(os.stat(root).st_mode):
            raise ReconcileError(root, "source is not a directory")
    except OSError as exc:
        raise ReconcileError(root, f"source {cause_of(exc)}") from exc
    child = rules.child
    unreadable = tree.unreadable

    def entries(rel: str) -> list[tuple[str, os.DirEntry[str] | None]]:
        """The entries of directory `rel` in key order, by key (None for a directory)."""
        try:
            # Below the root, never through a symlink that replaced a directory.
            fd = os.open(os.path.join(root, rel), _BELOW) if rel else os.open(root, _ROOT)
            try:
                with os.scandir(fd) as it:
                    found = list(it)
            except BaseException:
                os.close(fd)
                raise
        except OSError as exc:
            if not rel:
                raise ReconcileError(root, cause_of(exc)) from exc
            if not isinstance(exc, (FileNotFoundError, NotADirectoryError)) and (
                exc.errno != errno.ELOOP
            ):
                unreadable.append((rel, cause_of(exc)))
            return []  # else removed (or replaced) since its parent was listed
        try:
            return _named(rel, found)
        finally:
            os.close(fd)

    def _named(
        rel: str, found: list[os.DirEntry[str]]
    ) -> list[tuple[str, os.DirEntry[str] | None]]:
        named: list[tuple[str, str, os.DirEntry[str] | None]] = []
        for entry in found:
            name = entry.name
            if child(rel, name):
                if defaults is not None and defaults.child(rel, name):
                    tree.excluded += 1
                continue
            key = f"{rel}/{name}" if rel else name
            try:
                # The entry's type comes with the listing: a directory needs no stat call.
                if entry.is_dir(follow_symlinks=False):
                    named.append((name + "/", key, None))
                    continue
                # Now, through the open directory (fstatat: one name to resolve, not the whole
                # path); the entry keeps the result for the walk below.
                entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                unreadable.append((key, cause_of(exc)))
                continue
            named.append((name, key, entry))
        named.sort(key=_first)
        return [(key, entry) for _, key, entry in named]

    here = iter(entries(""))
    above: list[Iterator[tuple[str, os.DirEntry[str] | None]]] = []
    while True:
        for key, entry in here:
            if entry is None:
                above.append(here)
                here = iter(entries(key))
                break
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                unreadable.append((key, cause_of(exc)))
                continue
            if stat.S_ISREG(st.st_mode):
                yield key, st
            elif stat.S_ISDIR(st.st_mode):
                # Replaced by a directory since it was listed: its keys come out of order,
                # which the march allows for.
                above.append(here)
                here = iter(entries(key))
                break
            elif links and stat.S_ISLNK(st.st_mode):
                try:
                    target = os.readlink(os.path.join(root, key))
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    unreadable.append((key, cause_of(exc)))
                    continue
                yield key, target
            else:
                tree.skipped.append((key, _kind(st.st_mode)))
        else:
            if not above:
                return
            here = above.pop()


def _first(item: tuple[str, str, os.DirEntry[str] | None]) -> str:
    return item[0]


def walk_source(
    root: str, rules: IgnoreRules, *, links: bool = False, defaults: IgnoreRules | None = None
) -> SourceTree:
    """Walk `root` as `scan_source` does, into a `SourceTree` (every file held in memory).

    Raises:
        ReconcileError: `root` is missing or not a readable directory.
    """
    tree = SourceTree()
    files, found_links = tree.files, tree.links
    for key, value in scan_source(root, rules, tree=tree, links=links, defaults=defaults):
        if isinstance(value, str):
            found_links[key] = value
        else:
            files[key] = value
    return tree


def listing_of(
    destination: Destination, features: Features, *, links: bool
) -> Iterator[ObjectInfo]:
    """The listing a reconcile reads: the quickest the destination has (with its symlinks)."""
    if links and features.links is not None:
        return features.links.quick_list(links=True)
    if features.quick_list is not None:
        return features.quick_list()
    return destination.list()


def source_has(root: str, *, links: bool) -> Callable[[str], bool]:
    """Whether `root` has a regular file (or, with `links`, a symlink) under a key, now."""

    def present(key: str) -> bool:
        try:
            mode = os.lstat(os.path.join(root, key)).st_mode
        except OSError:
            return False
        return stat.S_ISREG(mode) or (links and stat.S_ISLNK(mode))

    return present


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
