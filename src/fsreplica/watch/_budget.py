"""The inotify watch budget: how many watches are free, and which subtrees do not fit.

`fs.inotify.max_user_watches` is per user, shared by every process of that user (editors, file
managers, other watchers). Counting what is in use means reading the `inotify wd:` lines in
/proc/<pid>/fdinfo of this user's processes; that is bounded (at most `_MAX_PROCESSES`) and costs
a few milliseconds.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from fsreplica.errors import WatcherError
from fsreplica.filters import IgnoreRules

MAX_USER_WATCHES = "/proc/sys/fs/inotify/max_user_watches"
RESERVE = 0.1
"""Share of the free watches `auto` leaves for directories created later."""
_MAX_PROCESSES = 4096


class Plan(NamedTuple):
    """How a tree fits in the budget.

    Attributes:
        needed: Directories in the tree (one watch each), ignored ones excluded.
        polled: Top directories of the subtrees that do not fit, breadth-first last.
    """

    needed: int
    polled: list[str]


def read_limit() -> int | None:
    """Return fs.inotify.max_user_watches, or None where it cannot be read."""
    try:
        with open(MAX_USER_WATCHES) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def watches_in_use(uid: int | None = None) -> int:
    """Count the inotify watches held by the processes of `uid` (default: this user)."""
    if sys.platform == "win32":  # no inotify, no uids
        return 0
    uid = os.getuid() if uid is None else uid
    total = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()][:_MAX_PROCESSES]
    except OSError:
        return 0
    for pid in pids:
        try:
            if os.stat(f"/proc/{pid}").st_uid != uid:
                continue
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:inotify":
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    total += sum(line.startswith("inotify wd:") for line in f)
            except OSError:
                continue
    return total


def plan(root: str, rules: IgnoreRules, budget: int) -> Plan:
    """Count the directories under `root` and pick the subtrees beyond `budget` watches.

    The walk is breadth-first, so the top levels are watched natively and the deepest subtrees
    are polled. Directories still queued when the budget is used up are never ancestors of one
    another, so each becomes one polled subtree.
    """
    needed = 0
    polled: list[str] = []
    queue: deque[tuple[str, str]] = deque([(root, "")])
    while queue:
        path, key = queue.popleft()
        needed += 1
        if needed > budget and not polled and key:
            polled = [path, *(p for p, _ in queue)]
        prefix = f"{key}/" if key else ""
        try:
            with os.scandir(path) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False) and not rules.child(key, entry.name):
                            queue.append((entry.path, prefix + entry.name))
                    except OSError:
                        continue
        except OSError:
            continue
    return Plan(needed, polled)


def watch_limit_error(path: str, *, needed: int, limit: int | None, in_use: int) -> WatcherError:
    """The error for a tree that does not fit: what it needs, the limit, how to raise it.

    Args:
        path: The directory that could not be watched.
        needed: Watches the tree needs (see `plan`).
        limit: fs.inotify.max_user_watches (None where it cannot be read).
        in_use: Watches held by this user's processes (see `watches_in_use`).
    """
    suggest = max((limit or 0) * 2, (needed + in_use) * 2, 65536)
    return WatcherError(
        "watch",
        path,
        f"inotify watch limit reached (fs.inotify.max_user_watches={limit}, {in_use} in use by "
        f"this user; this tree needs {needed} watches); raise it with: "
        f"sysctl -w fs.inotify.max_user_watches={suggest}",
    )


class SkipRules(IgnoreRules):
    """Ignore rules that also skip given directory keys (the subtrees left to polling)."""

    __slots__ = ("_skip",)

    def __init__(self, patterns: Iterable[str], skip: set[str]) -> None:
        super().__init__(patterns)
        self._skip = frozenset(skip)

    def child(self, parent_key: str, name: str) -> bool:
        """Return True if `name` in `parent_key` is ignored or a skipped subtree."""
        key = f"{parent_key}/{name}" if parent_key else name
        return key in self._skip or super().child(parent_key, name)
