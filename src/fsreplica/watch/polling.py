"""The polling backend: periodic snapshots of the tree, diffed by (inode, size, mtime_ns).

For file systems whose change notifications cannot be trusted (NFS, SMB, FUSE network mounts,
9p/virtiofs shares) and for subtrees that do not fit in the inotify watch budget. One owner thread
walks every polled tree once per interval, one `list_dir` per directory (`_listing.py`: in C where
the optional extension is built, else `os.scandir`): names and types come from the directory
listing and only regular files cost one lstat each, relative to the directory fd, the least any
poller can do to see a size or a time. A name known from the last poll skips the ignore rules (it
passed them then). A file whose signature did not change keeps the tuple it had, so a poll of an
unchanged tree allocates nothing that outlives it and memory stays flat.

Between polls the thread sleeps on a condition for the rest of the interval (or until the next
debounce deadline); `watch()`, `stop()` and a consumer making room wake it.

Limitations, inherent in polling: a change is seen up to one interval late; a file created and
removed between two polls is never seen; a touch (mtime changed, content not) gives a put; a file
still being written when a poll sees it is delivered, then delivered again once it changes no more;
renames are paired by inode only when both names are seen in the same poll.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Callable
from typing import Any

from fsreplica.config import WatcherConfig
from fsreplica.errors import InternalError, RootLost, WatcherError
from fsreplica.events import Operation
from fsreplica.filters import IgnoreRules
from fsreplica.pipeline import Channel, Debouncer, Release
from fsreplica.watch._base import Item, overlapping
from fsreplica.watch._listing import Signature, list_dir
from fsreplica.watch._output import Output
from fsreplica.watch._owner import Owner
from fsreplica.watch.stats import WatcherStats

_GONE = (errno.ENOENT, errno.ENOTDIR)
_NONE: dict[str, Signature] = {}  # the snapshot of a directory not seen before (never written)


class _Tree:
    """One polled directory tree: a watched root, or a subtree of one (the watch budget)."""

    __slots__ = ("dirs", "gone", "ino", "is_root", "path", "prefix", "root")

    def __init__(self, path: str, root: str, prefix: str) -> None:
        self.path = path
        self.root = root
        self.prefix = prefix  # key of `path` relative to `root` ("" for a root)
        self.is_root = not prefix
        self.ino = -1
        # directory key (relative to root) -> {file name: signature}: the known files
        self.dirs: dict[str, dict[str, Signature]] = {}
        # files seen gone whose delete is not released yet: key -> inode
        self.gone: dict[str, int] = {}

    def file_path(self, key: str) -> str:
        return f"{self.root}{os.sep}{key.replace('/', os.sep)}"


FileKey = tuple[_Tree, str]


class PollingBackend:
    """Watches directory trees by polling and feeds debounced events into a channel.

    Args:
        config: The watcher settings (`poll_interval` sets the period).
        channel: Where events (and asynchronous errors) go.
        rules: Ignore rules; default: from `config.ignore`.
    """

    name = "polling"

    def __init__(
        self, config: WatcherConfig, channel: Channel[Item], *, rules: IgnoreRules | None = None
    ) -> None:
        self._interval = config.poll_interval
        self._log = config.logger
        self._rules = rules if rules is not None else IgnoreRules(config.ignore)
        self._deb: Debouncer[FileKey] = Debouncer(
            delay=config.debounce_delay, quiet=config.write_quiet
        )
        self._trees: dict[str, _Tree] = {}
        self._reported: set[str] = set()  # directories whose scan error was reported
        self.stats = WatcherStats()
        self._out = Output(channel, self.stats, self._log)
        self._owner = Owner(
            "fsreplica-polling", loop=self._loop, shutdown=self._shutdown, report=self._crashed
        )
        channel.set_on_space(self._owner.wake)
        self._owner.start()

    # ----------------------------------------------------------------- other threads

    def watch(self, path: str) -> None:
        """Poll `path` recursively; return once its first snapshot is taken."""
        self._call(lambda: self._add(path, path, ""), path)

    def watch_subtree(self, path: str, *, root: str) -> None:
        """Poll `path`, a directory under the watched `root`, reporting keys relative to `root`."""
        prefix = os.path.relpath(path, root).replace(os.sep, "/")
        self._call(lambda: self._add(path, root, prefix), path)

    def rewatch(self) -> None:
        """Nothing to do: every poll lists the directories that could not be read again."""

    def request_stop(self) -> None:
        """Stop polling; return once every pending event is in the channel (the thread ended)."""
        self._owner.request_stop()
        self._owner.join()

    def join(self) -> None:
        """Wait for the owner thread to end (it has, once `request_stop` returned)."""
        self._owner.join()

    def stop(self) -> None:
        """Deliver what is pending, join the thread."""
        self.request_stop()

    def _call(self, fn: Callable[[], Any], path: str) -> Any:
        return self._owner.call(fn, path)

    # ----------------------------------------------------------------- owner thread

    def _crashed(self, error: InternalError) -> None:
        self._out.report(error, log=False)

    def _loop(self) -> None:
        deb = self._deb
        mail = self._owner
        cond = mail.cond
        next_poll = time.monotonic() + self._interval
        while True:
            with cond:
                while not mail.pending():
                    deadline = deb.next_deadline()
                    deadline = next_poll if deadline is None else min(deadline, next_poll)
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        break
                    cond.wait(wait)
                if mail.stopping:
                    return
                commands = mail.take()
            mail.run(commands)
            if time.monotonic() >= next_poll:
                self._poll_all()
                # The period runs from the end of a poll, so a slow tree never polls back to back.
                next_poll = time.monotonic() + self._interval
            for rel in deb.pop_due(time.monotonic()):
                self._release(rel)
            self._out.flush()

    def _shutdown(self) -> None:
        self._out.hand_over(self._deb, self._release)
        self._trees.clear()

    # ----------------------------------------------------------------- trees

    def _add(self, path: str, root: str, prefix: str) -> None:
        if path in self._trees:
            return
        other = overlapping(path, self._trees)
        if other is not None:
            raise WatcherError("watch", path, f"overlaps the watched root {other}")
        tree = _Tree(path, root, prefix)
        try:
            st = os.stat(path)
        except OSError as exc:
            if tree.is_root:
                raise WatcherError("watch", path, exc) from exc
        else:
            if not stat.S_ISDIR(st.st_mode):
                raise WatcherError("watch", path, "not a directory")
            tree.ino = st.st_ino
            if tree.is_root:
                try:  # an unreadable root is refused now, not reported at every poll
                    os.scandir(path).close()
                except OSError as exc:
                    raise WatcherError("watch", path, exc) from exc
        self._poll(tree, emit=False)
        self._trees[path] = tree
        self._count()

    def _count(self) -> None:
        self.stats.roots = sum(t.is_root for t in self._trees.values())
        self.stats.watches = sum(len(t.dirs) for t in self._trees.values())

    def _poll_all(self) -> None:
        for tree in list(self._trees.values()):
            if tree.is_root and not self._root_intact(tree):
                continue
            self._poll(tree, emit=True)
        self._count()

    def _root_intact(self, tree: _Tree) -> bool:
        try:
            ino = os.stat(tree.path).st_ino
        except OSError:
            reason = "watched root is gone (deleted or moved away)"
        else:
            if ino == tree.ino:
                return True
            reason = "watched root was replaced"
        del self._trees[tree.path]
        for key in list(self._deb_keys(tree)):
            self._deb.discard(key)
        self._out.report(RootLost("watch", tree.path, reason), log=False)
        return False

    def _deb_keys(self, tree: _Tree) -> list[FileKey]:
        keys: list[FileKey] = []
        for dkey, files in tree.dirs.items():
            prefix = f"{dkey}/" if dkey else ""
            keys.extend((tree, prefix + name) for name in files)
        return [k for k in keys if k in self._deb]

    def _poll(self, tree: _Tree, *, emit: bool) -> None:
        """Walk `tree`, compare with its last snapshot and queue what changed."""
        ignored = self._rules.child
        old_dirs = tree.dirs
        new_dirs: dict[str, dict[str, Signature]] = {}
        changed: list[tuple[str, int, bool]] = []  # key, inode, new name
        gone: list[tuple[str, int]] = []
        stack = [(tree.path, tree.prefix)]
        sep = os.sep
        while stack:
            path, dkey = stack.pop()
            old = old_dirs.get(dkey)
            try:
                files, subdirs, fresh = list_dir(path, _NONE if old is None else old)
            except OSError as exc:
                if exc.errno not in _GONE:
                    self._keep(tree, dkey, new_dirs, exc, path)
                continue
            prefix = f"{dkey}/" if dkey else ""
            for name in subdirs:
                if not ignored(dkey, name):
                    stack.append((f"{path}{sep}{name}", prefix + name))
            added = 0
            for name in fresh:
                # A name known from the last poll passed the ignore rules then.
                new = old is None or name not in old
                if new:
                    if ignored(dkey, name):
                        del files[name]
                        continue
                    added += 1
                changed.append((prefix + name, files[name][0], new))
            new_dirs[dkey] = files
            if old is not None and len(files) - added < len(old):
                gone.extend((prefix + n, sig[0]) for n, sig in old.items() if n not in files)
        if len(new_dirs) < len(old_dirs) or not old_dirs.keys() <= new_dirs.keys():
            for dkey, files in old_dirs.items():
                if dkey not in new_dirs:
                    prefix = f"{dkey}/" if dkey else ""
                    gone.extend((prefix + n, sig[0]) for n, sig in files.items())
        tree.dirs = new_dirs
        if emit and (changed or gone):
            self._queue(tree, changed, gone)

    def _keep(
        self,
        tree: _Tree,
        dkey: str,
        new_dirs: dict[str, dict[str, Signature]],
        exc: OSError,
        path: str,
    ) -> None:
        """An unreadable directory: keep what we knew below it rather than call it deleted."""
        below = f"{dkey}/"
        for key, files in tree.dirs.items():
            if key == dkey or key.startswith(below) or not dkey:
                new_dirs[key] = files
        if path not in self._reported:
            self._reported.add(path)
            self._out.report(WatcherError("scan", path, exc))

    def _queue(
        self, tree: _Tree, changed: list[tuple[str, int, bool]], gone: list[tuple[str, int]]
    ) -> None:
        now, wall = time.monotonic(), time.time()
        deb = self._deb
        # Renames seen within one poll: the new name carries the inode of a name that went away.
        by_ino = {ino: key for key, ino in gone} if gone else {}
        for key, ino, new in changed:
            moved_from = by_ino.get(ino) if new else None
            rel = deb.complete((tree, key), now=now, wall=wall, moved_from=moved_from)
            if rel is not None:
                self._release(rel)
        for key, ino in gone:
            tree.gone[key] = ino
            rel = deb.complete((tree, key), now=now, wall=wall)
            if rel is not None:
                self._release(rel)

    # ----------------------------------------------------------------- output

    def _release(self, rel: Release[FileKey]) -> None:
        tree, key = rel.key
        if self._trees.get(tree.path) is not tree:
            return
        try:
            st = os.lstat(tree.file_path(key))
        except OSError:
            is_file = False
        else:
            is_file = stat.S_ISREG(st.st_mode)
        was_gone = tree.gone.pop(key, None) is not None
        dkey, _, name = key.rpartition("/")
        if is_file:
            # The consumer is now told the file exists. If the last poll saw it gone (it came
            # back before this release), the snapshot must know it again, or its removal before
            # the next poll would go unnoticed and the put would stand for a file that is gone.
            tree.dirs.setdefault(dkey, {}).setdefault(name, (st.st_ino, st.st_size, st.st_mtime_ns))
            moved_from = rel.moved_from
            self._out.emit(
                tree.root,
                key,
                Operation.PUT,
                rel.time,
                moved_from if isinstance(moved_from, str) else None,
            )
            return
        files = tree.dirs.get(dkey)
        if files is not None and files.pop(name, None) is not None:
            was_gone = True  # seen by a poll, gone before its release
        if was_gone:
            self._out.emit(tree.root, key, Operation.DELETE, rel.time)
