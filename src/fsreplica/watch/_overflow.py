"""Recovery from a kernel event queue overflow: rescan, and emit what changed since it was empty.

When inotify's queue overflows (`IN_Q_OVERFLOW`) events are lost, so the tree is compared with the
disk: names that appeared or vanished, directories replaced, and files whose ctime or mtime is at
or after the last moment the queue was provably drained before the overflow (or the last rescan
started), with a margin for the kernel's coarse inode clock. That moment is the last read that
emptied the queue before the read that brought the overflow in: the latter comes after the lost
changes (a stalled or paused reader), so it must not be used. When in doubt a file is reported: a
spurious put of an unchanged file costs a stat at the consumer, a lost change costs the data.

A mixin of `InotifyBackend`, whose state it uses (typed by `_Host` below); kept apart because the
rescan is its own idea and the backend's largest method.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Protocol

from fsreplica.filters import IgnoreRules
from fsreplica.watch import _inotify_sys as sys_
from fsreplica.watch._tree import DirNode, Root
from fsreplica.watch.stats import WatcherStats

# The margin every backend's rescan allows (see changed_since). Inode times come from the
# kernel's coarse clock, up to a tick (<= 10 ms) behind, and a write stamps them when it starts
# while its event is queued when it ends (a large write to a slow disk takes a while): a change is
# looked for from well before the last moment the queue was empty.
OVERFLOW_SLACK_NS = 1_000_000_000
# File systems that keep whole seconds (FAT: two) need a wider margin; a ctime that is a whole
# second says so (on a nanosecond file system that is a one-in-a-billion chance, and costs only a
# spare put).
_COARSE_SLACK_NS = 2_000_000_000
_SECOND_NS = 1_000_000_000


class _Host(Protocol):
    """What the rescan needs of the backend."""

    stats: WatcherStats
    _log: logging.Logger
    _fd: int
    _rules: IgnoreRules
    _roots: dict[str, Root]
    _moves: dict[int, tuple[DirNode, str, bool]]
    _synced_ns: int

    def _rescan_root(self, root: Root, watermark: int) -> None: ...
    def _drain_kernel(self) -> None: ...
    def _lose_root(self, root: Root, reason: str) -> None: ...
    def _drop_subtree(self, node: DirNode, wall: float) -> None: ...
    def _watch_child(
        self, node: DirNode, name: str, ino: int | None, emit: bool, stack: list[DirNode]
    ) -> None: ...
    def _complete(
        self,
        key: tuple[DirNode, str],
        now: float,
        wall: float,
        moved_from: str | None = None,
        *,
        regular: bool = False,
    ) -> None: ...


class OverflowRecovery:
    """The overflow rescan of `InotifyBackend` (a mixin)."""

    def _overflow(self: _Host, drained_ns: int) -> None:
        """The kernel dropped events: compare the disk with what we knew and emit the changes.

        Args:
            drained_ns: When the queue was last known to be empty before the buffer holding the
                overflow was read.
        """
        self.stats.overflows += 1
        # Changes before the queue was last seen empty, or before the last rescan started,
        # are known; anything later may have been lost.
        watermark = max(drained_ns, self._synced_ns)
        rescan_started = time.time_ns()
        self._log.warning(
            "kernel event queue overflowed (fs.inotify.max_queued_events=%s); rescanning",
            sys_.read_sysctl(sys_.MAX_QUEUED_EVENTS),
        )
        started = time.perf_counter()
        self._moves.clear()
        before = self.stats.rescan_changes
        for root in list(self._roots.values()):
            self._rescan_root(root, watermark)
        self._synced_ns = rescan_started
        self._log.info(
            "rescan after overflow took %.3f s and found %d changes",
            time.perf_counter() - started,
            self.stats.rescan_changes - before,
        )

    def _rescan_root(self: _Host, root: Root, watermark: int) -> None:
        top = root.node
        if top is None:
            return
        try:
            wd = sys_.add_watch(self._fd, root.path, sys_.WATCH_MASK)
        except OSError:
            wd = -1
        if wd != top.wd:
            if wd >= 0:
                sys_.rm_watch(self._fd, wd)
            self._lose_root(root, "watched root was replaced or removed")
            return
        ignored = self._rules.child
        now, wall = time.monotonic(), time.time()
        stack = [top]
        while stack:
            node = stack.pop()
            if not node.alive:
                continue
            seen_files: set[str] = set()
            seen_dirs: set[str] = set()
            try:
                with os.scandir(node.path) as it:
                    entries = list(it)
            except OSError:
                if node is not top:
                    self._drop_subtree(node, wall)
                continue
            # A rescan of a big tree takes long enough for the kernel queue to overflow again.
            self._drain_kernel()
            for entry in entries:
                name = entry.name
                if ignored(node.key, name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        seen_dirs.add(name)
                        self._watch_child(node, name, entry.inode(), True, stack)
                    elif entry.is_file(follow_symlinks=False):
                        seen_files.add(name)
                        if not node.has_file(name) or changed_since(
                            last_change(entry.stat(follow_symlinks=False)), watermark
                        ):
                            self.stats.rescan_changes += 1
                            self._complete((node, name), now, wall, regular=True)
                except OSError:
                    continue
            for name in [n for n in node.file_names() if n not in seen_files]:
                self.stats.rescan_changes += 1
                self._complete((node, name), now, wall)
            for name, child in list(node.children.items()):
                if name not in seen_dirs:
                    self._drop_subtree(child, wall)


def last_change(st: os.stat_result) -> int:
    """The latest of a file's ctime and mtime, in nanoseconds."""
    # The mtime is later than the ctime only when set by hand (into the future); in doubt, report.
    return max(st.st_ctime_ns, st.st_mtime_ns)


def changed_since(changed_ns: int, watermark_ns: int) -> bool:
    """Return True if a change stamped `changed_ns` may have come at or after `watermark_ns`."""
    slack = _COARSE_SLACK_NS if changed_ns % _SECOND_NS == 0 else OVERFLOW_SLACK_NS
    return changed_ns >= watermark_ns - slack
