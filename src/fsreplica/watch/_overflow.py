"""Recovery from a kernel event queue overflow: rescan, and emit what changed since it was empty.

When inotify's queue overflows (`IN_Q_OVERFLOW`) events are lost, so the tree is compared with the
disk: names that appeared or vanished, directories replaced, and files whose ctime or mtime is at
or after the last moment the queue was provably drained before the overflow (or the last rescan
started), with a margin for the kernel's coarse inode clock. That moment is the last read that
emptied the queue before the read that brought the overflow in: the latter comes after the lost
changes (a stalled or paused reader), so it must not be used. When in doubt a file is reported: a
spurious put of an unchanged file costs a stat at the consumer, a lost change costs the data.

`Rescan` does this for the inotify backend, on its `WatchTree`; the portable backend has its own
walk but the same test (`changed_since`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from fsreplica.watch import _inotify_sys as sys_
from fsreplica.watch._inotify_tree import WatchTree
from fsreplica.watch._tree import Root
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


class Rescan:
    """Compares a `WatchTree` with the disk after the kernel dropped events.

    Changed, new and vanished files go to the tree's `complete` callback, vanished and replaced
    directories are dropped from the tree (their files deleted), a replaced root is lost.

    Args:
        tree: The watched trees to compare.
        between_dirs: Called after each directory is listed: a rescan of a big tree takes long
            enough for the kernel queue to overflow again, so the reader empties it meanwhile.
        stats: Counters (`overflows` and `rescan_changes` are kept here).
        log: Where the overflow and the rescan's outcome are logged.
    """

    def __init__(
        self,
        tree: WatchTree,
        *,
        between_dirs: Callable[[], None],
        stats: WatcherStats,
        log: logging.Logger,
    ) -> None:
        self._tree = tree
        self._between_dirs = between_dirs
        self._stats = stats
        self._log = log
        self._synced_ns = 0  # when the last rescan started

    def run(self, drained_ns: int) -> None:
        """Rescan every root and hand what changed to the tree's callbacks.

        Args:
            drained_ns: When the queue was last known to be empty before the buffer holding the
                overflow was read.
        """
        self._stats.overflows += 1
        # Changes before the queue was last seen empty, or before the last rescan started,
        # are known; anything later may have been lost.
        watermark = max(drained_ns, self._synced_ns)
        rescan_started = time.time_ns()
        self._log.warning(
            "kernel event queue overflowed (fs.inotify.max_queued_events=%s); rescanning",
            sys_.read_sysctl(sys_.MAX_QUEUED_EVENTS),
        )
        started = time.perf_counter()
        changes = 0
        for root in list(self._tree.roots.values()):
            changes += self._root(root, watermark)
        self._synced_ns = rescan_started
        self._log.info(
            "rescan after overflow took %.3f s and found %d changes",
            time.perf_counter() - started,
            changes,
        )

    def _root(self, root: Root, watermark: int) -> int:
        tree = self._tree
        top = root.node
        if top is None:
            return 0
        try:
            wd = sys_.add_watch(tree.fd, root.path, sys_.WATCH_MASK)
        except OSError:
            wd = -1
        if wd != top.wd:
            if wd >= 0:
                sys_.rm_watch(tree.fd, wd)
            tree.lose_root(root, "watched root was replaced or removed")
            return 0
        ignored = tree.rules.child
        complete = tree.complete
        changes = 0
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
                    tree.drop_subtree(node, wall)
                continue
            self._between_dirs()
            for entry in entries:
                name = entry.name
                if ignored(node.key, name):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        seen_dirs.add(name)
                        tree.watch_child(node, name, entry.inode(), True, stack)
                    elif entry.is_file(follow_symlinks=False):
                        seen_files.add(name)
                        if not node.has_file(name) or changed_since(
                            last_change(entry.stat(follow_symlinks=False)), watermark
                        ):
                            changes += 1
                            self._stats.rescan_changes += 1
                            complete((node, name), now, wall, regular=True)
                except OSError:
                    continue
            for name in [n for n in node.file_names() if n not in seen_files]:
                changes += 1
                self._stats.rescan_changes += 1
                complete((node, name), now, wall)
            for name, child in list(node.children.items()):
                if name not in seen_dirs:
                    tree.drop_subtree(child, wall)
        return changes


def last_change(st: os.stat_result) -> int:
    """The latest of a file's ctime and mtime, in nanoseconds."""
    # The mtime is later than the ctime only when set by hand (into the future); in doubt, report.
    return max(st.st_ctime_ns, st.st_mtime_ns)


def changed_since(changed_ns: int, watermark_ns: int) -> bool:
    """Return True if a change stamped `changed_ns` may have come at or after `watermark_ns`."""
    slack = _COARSE_SLACK_NS if changed_ns % _SECOND_NS == 0 else OVERFLOW_SLACK_NS
    return changed_ns >= watermark_ns - slack
