"""The watched directory trees of the inotify backend, and the operations on them.

Owned by the backend's thread, like everything the backend holds. A `WatchTree` adds and removes
inotify watches as directories appear, move and go, and keeps the `DirNode` tree (`_tree.py`) in
step with them; what a change means for files (a put to debounce, a delete to emit, an error for
the consumer) it hands to the callbacks it was given, which belong to the event side
(`inotify.py`).
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable
from typing import Protocol

from fsreplica.errors import RootLost, WatcherError
from fsreplica.filters import IgnoreRules
from fsreplica.watch import _budget
from fsreplica.watch import _inotify_sys as sys_
from fsreplica.watch._tree import DirNode, Root
from fsreplica.watch.stats import WatcherStats

FileKey = tuple[DirNode, str]


class Complete(Protocol):
    """Record a complete change of a file (see `InotifyBackend._complete`)."""

    def __call__(
        self,
        key: FileKey,
        now: float,
        wall: float,
        moved_from: str | None = None,
        *,
        regular: bool = False,
    ) -> None: ...


class Report(Protocol):
    """Hand an error to the consumer's stream (and log it unless `log` is False)."""

    def __call__(self, error: WatcherError, *, log: bool = True) -> None: ...


class WatchTree:
    """Every watched root of one inotify instance: watch descriptors, nodes, unreadable dirs.

    Args:
        fd: The inotify instance.
        rules: Which names are never watched.
        stats: Counters (`roots` is kept here).
        complete: Called for a file that changed (created, moved, listed, gone).
        deleted: Called for a file whose delete is emitted at once (its directory left).
        discard: Called for a file whose pending change no longer matters (its directory left).
        report: Called for an error the consumer hears of (`log`: also log it).
    """

    def __init__(
        self,
        fd: int,
        rules: IgnoreRules,
        stats: WatcherStats,
        *,
        complete: Complete,
        deleted: Callable[[Root, str, float], None],
        discard: Callable[[FileKey], None],
        report: Report,
    ) -> None:
        self.fd = fd
        self.rules = rules
        self._stats = stats
        self.complete = complete
        self._deleted = deleted
        self._discard = discard
        self._report = report
        self.nodes: dict[int, DirNode] = {}
        self.roots: dict[str, Root] = {}
        # Directories that could not be watched for lack of permission, by path: (parent, name).
        self._unwatched: dict[str, tuple[DirNode, str]] = {}
        self.wall = time.time()
        """The wall time of the events being handled (set by the reader)."""

    def clear(self) -> None:
        """Forget everything (the inotify fd is closed)."""
        self.nodes.clear()
        self.roots.clear()

    def add_root(self, path: str) -> None:
        # Overlapping roots and aliases are refused by the Watcher, across all its backends.
        if path in self.roots:
            return
        root = Root(path)
        try:
            wd = sys_.add_watch(self.fd, path, sys_.WATCH_MASK)
        except OSError as exc:
            raise self.watch_error(path, exc) from exc
        if wd in self.nodes:
            raise WatcherError("watch", path, f"same directory as {self.nodes[wd].path}")
        try:
            ino = os.stat(path).st_ino
        except OSError as exc:
            sys_.rm_watch(self.fd, wd)
            raise WatcherError("watch", path, exc) from exc
        root.node = node = DirNode(root, None, "", wd, ino)
        self.nodes[wd] = node
        self.roots[path] = root
        try:
            self.scan(node, emit=False)
        except WatcherError:
            self.forget_root(root)
            raise
        self._stats.roots = len(self.roots)

    def watch_error(self, path: str, exc: OSError) -> WatcherError:
        if exc.errno == errno.ENOSPC:
            root = next((r for r in self.roots.values() if path.startswith(r.path)), None)
            # Counted with the same rules the watches follow (path patterns included).
            needed = _budget.plan(root.path if root else path, self.rules, sys.maxsize).needed
            return _budget.watch_limit_error(
                path, needed=needed, limit=_budget.read_limit(), in_use=_budget.watches_in_use()
            )
        if exc.errno == errno.ENOTDIR:
            return WatcherError("watch", path, "not a directory")
        return WatcherError("watch", path, exc)

    def rewatch(self) -> None:
        unwatched, self._unwatched = self._unwatched, {}
        for parent, name in unwatched.values():
            if parent.alive and name not in parent.children and parent.intact():
                self.add_dir(parent, name)

    def add_dir(self, parent: DirNode, name: str) -> None:
        """A directory appeared under `parent` (created or moved in): watch it, then scan it."""
        stack: list[DirNode] = []
        self.watch_child(parent, name, None, True, stack)
        for node in stack:
            self.scan(node, emit=True)

    def scan(self, top: DirNode, *, emit: bool) -> None:
        """List `top` and below; watch every sub-directory; note (or emit) every regular file."""
        ignored = self.rules.child
        stack = [top]
        now, wall = time.monotonic(), time.time()
        while stack:
            node = stack.pop()
            found: list[str] = []
            key = node.key
            try:
                it = os.scandir(node.path)
            except OSError as exc:
                if node is top and node.parent is None:
                    raise WatcherError("watch", node.path, exc) from exc
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                    self._report(WatcherError("scan", node.path, exc))
                continue
            with it:
                for entry in it:
                    name = entry.name
                    if ignored(key, name):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            is_dir, is_file = True, False
                        else:
                            is_dir, is_file = False, entry.is_file(follow_symlinks=False)
                    except OSError:
                        continue
                    if is_file:
                        if emit:
                            if not node.has_file(name):
                                self.complete((node, name), now, wall, regular=True)
                        else:
                            found.append(name)
                    elif is_dir:
                        self.watch_child(node, name, entry.inode(), emit, stack)
            if found:
                node.set_scanned(found)

    def watch_child(
        self, node: DirNode, name: str, ino: int | None, emit: bool, stack: list[DirNode]
    ) -> None:
        """Watch the directory `name` in `node` and put its node on `stack` to be scanned.

        `ino` is the inode a directory listing gave, or None to read it once the watch is in
        place. Errors are reported on the stream when emitting, raised during a first watch.
        """
        path = f"{node.path}{os.sep}{name}"
        try:
            wd = sys_.add_watch(self.fd, path)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return
            error = self.watch_error(path, exc)
            if exc.errno in (errno.EACCES, errno.EPERM):
                # One unreadable directory must not stop the rest of the tree: the consumer
                # hears of it (and logs it as it sees fit), and rewatch() tries it again.
                self._unwatched[path] = (node, name)
                self._report(error, log=False)
                return
            if not emit:
                raise error from exc
            self._report(error)
            return
        existing = self.nodes.get(wd)
        if existing is not None and existing.alive:
            if existing.parent is not node or existing.name != name:
                self.rename_subtree(existing, node, name)
            if emit:
                stack.append(existing)
            return
        if ino is None:
            try:
                ino = os.lstat(path).st_ino
            except OSError:  # gone again: its own events will follow
                sys_.rm_watch(self.fd, wd)
                return
        child = DirNode(node.root, node, name, wd, ino)
        replaced = node.children.get(name)
        if replaced is not None:  # another directory had this name (seen by a rescan)
            self.drop_subtree(replaced, self.wall)
        node.add_child(name, child)
        self.nodes[wd] = child
        stack.append(child)

    def rename_subtree(self, node: DirNode, parent: DirNode, name: str) -> None:
        """A directory moved inside the tree: deletes under the old keys, puts under the new."""
        if self.rules.child(parent.key, name) or parent.root is not node.root:
            self.drop_subtree(node, self.wall)
            if parent.root is not node.root:
                self.add_dir(parent, name)
            return
        old = [(n, n.file_names(), n.key) for n in node.walk()]
        displaced = parent.children.get(name)
        if displaced is not None and displaced is not node:
            self.drop_subtree(displaced, self.wall)
        node.move(parent, name)
        now, wall = time.monotonic(), self.wall
        for n, files, old_key in old:
            for file_name in files:
                old_file_key = f"{old_key}/{file_name}" if old_key else file_name
                self.complete((n, file_name), now, wall, old_file_key)
                self._deleted(n.root, old_file_key, wall)
        # Directories and files created under the old path just before the rename may not have
        # been watched or seen yet (their events named a path that no longer existed): look now,
        # unless this path is itself stale (a later rename's events will bring us back here).
        if node.intact():
            self.scan(node, emit=True)

    def drop_subtree(self, node: DirNode, wall: float) -> None:
        """A directory left the tree: a delete for every file it held; its watches go."""
        root = node.root
        for n in node.detach():
            for name in n.file_names():
                self._discard((n, name))
                self._deleted(root, n.file_key(name), wall)
            n.clear_files()
            if self.nodes.get(n.wd) is n:
                del self.nodes[n.wd]
                sys_.rm_watch(self.fd, n.wd)

    def lose_root(self, root: Root, reason: str) -> None:
        self.forget_root(root)
        self._report(RootLost("watch", root.path, reason), log=False)

    def forget_root(self, root: Root) -> None:
        if root.node is not None:
            for n in root.node.detach():
                if self.nodes.get(n.wd) is n:
                    del self.nodes[n.wd]
                    sys_.rm_watch(self.fd, n.wd)
        self.roots.pop(root.path, None)
        self._stats.roots = len(self.roots)
