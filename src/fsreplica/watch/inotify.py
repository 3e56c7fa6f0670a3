"""The native Linux backend: one inotify instance read by one owner thread.

This module reads kernel events and dispatches them: file changes to the debouncer, directory
changes to the `WatchTree` (`_inotify_tree.py`, the operations on the watched trees), an overflow
to `Rescan` (`_overflow.py`). The owner thread (`_owner.py`) owns every piece of state (watch
descriptors, the tree, the debouncer, the backlog for a slow consumer) and needs no lock. It
sleeps in poll() on the inotify fd and an eventfd; the poll timeout is the next debounce deadline,
so an idle watcher never wakes up. Other threads reach it through the owner, whose waker writes
the eventfd.
"""

from __future__ import annotations

import os
import select
import stat
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fsreplica.config import WatcherConfig
from fsreplica.errors import InternalError
from fsreplica.events import Operation
from fsreplica.filters import IgnoreRules
from fsreplica.pipeline import Channel, Debouncer, Release
from fsreplica.watch import _inotify_sys as sys_
from fsreplica.watch._base import Item
from fsreplica.watch._inotify_tree import WatchTree
from fsreplica.watch._output import Output
from fsreplica.watch._overflow import Rescan
from fsreplica.watch._owner import Owner
from fsreplica.watch._pace import Pace, queue_limit
from fsreplica.watch._tree import DirNode, Root
from fsreplica.watch.stats import WatcherStats

_READ_SIZE = 64 * 1024  # ~2,000 events: small enough to empty the kernel queue often
_SHORT_READ = _READ_SIZE - (16 + 256)  # less than this left unfilled: the queue was drained
_BIG_BUFFER = 4096  # a buffer this big (~100 events) takes long enough to look at the queue after
_BUFFERS_PER_TURN = 128  # handle at most this many buffers before looking at timers and the backlog
# Interrupt coalescing. After _BURST_TURNS wake-ups in a row, each within _BURST_GAP of the read
# before it, the thread is in a burst and lets events gather for _LINGER_MS before each read, so
# one turn (poll, read, hand-off, the consumer's wake-up) serves tens of files instead of one or
# two: without it a writer creating files as fast as it can pays that whole turn for every file,
# in the two threads (see benchmarks/README.md). A single save (create, then write and close: two
# or three wake-ups) never reaches the streak, so its latency is unchanged.
_BURST_GAP = 0.0015  # seconds: a steady 1,000 changes a second is a burst; 500 is not
_BURST_TURNS = 8
_LINGER_MS = 1
_USER_QUEUE_BYTES = 16 * 1024 * 1024  # events read ahead of handling (~400,000), past the kernel's
_MOVE_PAIR_WAIT_MS = 2  # how long an unpaired IN_MOVED_FROM waits for its IN_MOVED_TO

_RUN_BITS = sys_.IN_CREATE | sys_.IN_MODIFY | sys_.IN_CLOSE_WRITE
_WRITTEN = sys_.IN_CREATE | sys_.IN_MODIFY
_CLOSE = sys_.IN_CLOSE_WRITE
_unpack_header = struct.Struct("iIII").unpack_from
_HEADER_SIZE = sys_.HEADER_SIZE

# os.fsdecode's own steps, spared its Python-level call for every name read.
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()

_PUT = Operation.PUT
_DELETE = Operation.DELETE

FileKey = tuple[DirNode, str]


class InotifyBackend:
    """Watches directory trees with inotify and feeds debounced events into a channel.

    Args:
        config: The watcher settings.
        channel: Where events (and asynchronous errors) go.
        rules: Ignore rules; default: from `config.ignore`. The watch budget passes rules that
            also skip the subtrees it polls instead (they are then never watched here).
    """

    def __init__(
        self, config: WatcherConfig, channel: Channel[Item], *, rules: IgnoreRules | None = None
    ) -> None:
        self._config = config
        self._log = config.logger
        self._rules = rules if rules is not None else IgnoreRules(config.ignore)
        self._channel = channel
        self._deb: Debouncer[FileKey] = Debouncer(
            delay=config.debounce_delay, quiet=config.write_quiet
        )
        self._fd = sys_.inotify_init()
        # Read once: the kernel fixes an instance's queue limit when the instance is made.
        self._pace = Pace(debounce=config.debounce_delay, queue=queue_limit())
        self._changes = 0  # complete changes recorded: the rate `_pace` follows
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._poll = select.poll()  # without the C extension (see _wait)
        self._poll.register(self._fd, select.POLLIN)
        self._poll.register(self._wake, select.POLLIN)
        self._events = select.POLLIN  # on the inotify fd: 0 while reads are paused
        # Lingering in a burst sleeps on the wake-up fd alone, so commands and stop() cut it short.
        self._linger = select.poll()
        self._linger.register(self._wake, select.POLLIN)
        self._last_read = 0.0
        self._streak = 0  # wake-ups in a row that came soon after the read before them
        self._reading = True
        self._emitted = 0
        self._moves: dict[int, tuple[DirNode, str, bool]] = {}
        # Buffers read ahead of handling, each with the moment the queue was last known to be
        # drained before it was read: what an overflow inside it may have lost came after that.
        self._bufs: deque[tuple[bytes, int]] = deque()
        self._buffered = 0
        self._created: list[FileKey] = []
        self._delivered = threading.Event()
        self._drained_ns = time.time_ns()
        self.stats = WatcherStats()
        self._output = Output(channel, self.stats, self._log)
        self._tree = WatchTree(
            self._fd,
            self._rules,
            self.stats,
            complete=self._complete,
            deleted=self._deleted,
            discard=self._deb.discard,
            report=self._output.report,
        )
        self._nodes = self._tree.nodes  # the same dict: read for every event
        self._rescan = Rescan(
            self._tree, between_dirs=self._drain_kernel, stats=self.stats, log=self._log
        )
        self._owner = Owner(
            "fsreplica-inotify",
            loop=self._loop,
            shutdown=self._shutdown,
            report=self._crashed,
            waker=self._signal,
        )
        channel.set_on_space(self._owner.wake)
        self._owner.start()

    # ----------------------------------------------------------------- other threads

    def watch(self, path: str) -> None:
        """Watch `path` recursively; return once its watches are in place."""
        self._call(lambda: self._tree.add_root(path), path)

    def rewatch(self) -> None:
        """Try again to watch the directories that could not be read; see `Watcher.rewatch`."""
        self._call(self._tree.rewatch, "")

    def request_stop(self) -> None:
        """Stop watching and return once every pending event is in the channel.

        The fds are closed after that, in the thread: closing an inotify instance waits for the
        kernel to retire every watch (tens of milliseconds with many), which consumers of the
        events need not wait for.
        """
        self._owner.request_stop()
        self._delivered.wait()

    def join(self) -> None:
        """Wait for the thread to close the fds and end."""
        self._owner.join()

    def stop(self) -> None:
        """Deliver what is pending, close the fds, join the thread."""
        self.request_stop()
        self.join()

    def _call(self, fn: Callable[[], Any], path: str) -> Any:
        return self._owner.call(fn, path)

    def _signal(self) -> None:
        try:
            os.eventfd_write(self._wake, 1)
        except OSError:  # closed: the thread has already finished
            pass

    # ----------------------------------------------------------------- owner thread

    def _crashed(self, error: InternalError) -> None:
        self._output.report(error, log=False)

    def _loop(self) -> None:
        deb = self._deb
        owner = self._owner
        channel = self._channel
        pace = self._pace
        stats = self.stats
        while not owner.stopping:
            timeout = -1
            events = self._events
            if self._bufs:
                timeout = 0  # events already read are waiting to be handled
            else:
                # Pacing, the events wait in the kernel for the tick: debounce deadlines that
                # fall due before it are released with its read, at the same wake-up.
                deadline = pace.tick_at or deb.next_deadline()
                if pace.tick_at:
                    events = 0
                if deadline is not None:
                    wait_ms = max(0.0, (deadline - time.monotonic()) * 1000.0)
                    timeout = int(wait_ms) + (wait_ms % 1 > 0)
            # The consumers are woken only now, as this thread lets the GIL go (see _wait).
            bell, ring = channel.take_ring()
            ready = self._wait(timeout, bell, ring, events)
            readable = bool(ready & 1)
            tick = pace.tick_at and time.monotonic() >= pace.tick_at
            if ready & 2:
                try:
                    os.eventfd_read(self._wake)
                except BlockingIOError:
                    pass
            commands = owner.take()
            if commands:
                owner.run(commands, after=self._flush)
            if owner.stopping:
                break
            if tick:
                self._streak = 0
                stats.paced_reads += 1
                self._read_available()
                self._last_read = now = time.monotonic()
                pace.after_tick(now, self._changes, stats.events_read)
            elif readable or self._bufs:
                if self._bufs:
                    pass  # events read ahead are waiting: nothing gathered
                elif ready & 4:
                    self._streak += 1  # and _wait lingered if the streak was long enough
                else:
                    self._streak = 0
                self._last_read = time.monotonic()
                self._read_available()
                if not pace.tick_at:
                    pace.after_read(time.monotonic(), self._changes, stats.events_read)
            for rel in deb.pop_due(time.monotonic()):
                self._release(rel)
            self._flush(defer=True)

    def _wait(self, timeout: int, bell: int, ring: int, events: int) -> int:
        """Wake `ring` consumers on the eventfd `bell`, then sleep in poll() for `timeout` ms.

        A negative `timeout` waits for as long as it takes. `events` is what to poll the
        inotify fd for: 0 sleeps on the wake-up fd alone (reads paused, or pacing).

        Returns 1 | 2 for the inotify fd | the wake-up eventfd ready, | 4 when the inotify fd
        woke it within _BURST_GAP of the last read: then, in a burst, it lingers _LINGER_MS
        more (on the wake-up fd alone, which cuts it short) before returning. Rung while this
        thread holds the GIL, a consumer wakes only to sleep again on it, and often preempts
        this thread on its way to poll(): two context switches more per hand-off. The C
        extension does it all with the GIL released, in one call.
        """
        burst_until = 0.0 if self._bufs or not events else self._last_read + _BURST_GAP
        linger = _LINGER_MS if self._streak + 1 >= _BURST_TURNS else 0
        if _c_wait is not None:
            # Left out of the poll set (fd -1), not polled for 0: a polled inotify fd wakes its
            # poller in the kernel at every event, whatever it was polled for.
            fd = self._fd if events else -1
            return _c_wait(fd, events, self._wake, timeout, bell, ring, burst_until, linger)
        if ring:
            os.eventfd_write(bell, ring)
        ready = 0
        poller = self._poll if events else self._linger
        for rfd, _ in poller.poll(timeout if timeout >= 0 else None):
            ready |= 1 if rfd == self._fd else 2
        if ready == 1 and time.monotonic() < burst_until:
            ready |= 4
            if linger and self._linger.poll(linger):
                ready |= 2
        return ready

    def _shutdown(self) -> None:
        try:
            if self._pace.tick_at:
                self._drain_kernel()  # left there for the next tick
            while self._bufs:  # events already read are delivered too
                self._handle(*self._bufs.popleft())
        except Exception:  # still release and close everything below
            self._log.exception("handling events read before stopping failed")
        self._output.hand_over(self._deb, self._release)
        self._channel.close()
        self._delivered.set()
        os.close(self._fd)
        os.close(self._wake)
        self._tree.clear()

    # ----------------------------------------------------------------- reading

    def _read_available(self) -> None:
        bufs = self._bufs
        self._drain_kernel()
        for _ in range(_BUFFERS_PER_TURN):
            if not bufs:
                break
            buf, drained_ns = bufs.popleft()
            size = len(buf)
            self._buffered -= size
            self._handle(buf, drained_ns)
            # Empty the kernel queue between buffers: handling a big one takes milliseconds,
            # time in which a fast writer could fill the kernel's 16,384 slots and force a
            # rescan. After a small one the next poll() looks soon enough, without a read
            # that would only fail.
            if bufs or size >= _BIG_BUFFER:
                self._drain_kernel()
            if self._moves and not bufs:
                self._settle_moves()
        self._check_created()

    def _drain_kernel(self) -> None:
        """Move what the kernel has queued into our own buffer, up to _USER_QUEUE_BYTES.

        Each buffer keeps the moment the queue was last drained before it was read. An overflow
        inside the buffer lost changes made after that moment, never before; a read that empties
        the queue later (even the very read that brings the overflow in, after a long stall or a
        pause for back-pressure) says nothing about them.
        """
        if not self._reading:
            return
        fd = self._fd
        bufs = self._bufs
        while self._buffered < _USER_QUEUE_BYTES:
            before = time.time_ns()
            try:
                buf = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                buf = b""
            if buf:
                bufs.append((buf, self._drained_ns))
                self._buffered += len(buf)
            if len(buf) < _SHORT_READ:
                # The kernel handed over all it had: everything that happened before `before`
                # is in our hands (another read would only fail).
                self._drained_ns = before
                return

    def _handle(self, buf: bytes, drained_ns: int) -> None:
        """Apply one buffer of kernel events in order.

        `drained_ns` is when the kernel queue was last known to be empty before `buf` was read.
        """
        now = time.monotonic()
        self._tree.wall = wall = time.time()
        nodes = self._nodes
        unpack = _unpack_header
        end = len(buf)
        pos = 0
        count = 0
        overflow = False
        # Writing a file queues IN_CREATE, IN_MODIFY..., IN_CLOSE_WRITE back to back. Such a
        # run for one name is handled once, on raw bytes, which is most of the work in a burst.
        run_wd = -1
        run_raw = b""
        run_mask = 0
        while pos < end:
            wd, mask, cookie, length = unpack(buf, pos)
            start = pos + _HEADER_SIZE
            pos = start + length
            count += 1
            if not mask & ~_RUN_BITS and length:
                raw = buf[start:pos]
                if run_mask and wd == run_wd and raw == run_raw and not run_mask & _CLOSE:
                    run_mask |= mask
                    continue
                if run_mask:
                    self._file_run(run_wd, run_raw, run_mask, now, wall)
                run_wd, run_raw, run_mask = wd, raw, mask
                continue
            if run_mask:
                self._file_run(run_wd, run_raw, run_mask, now, wall)
                run_mask = 0
            node = nodes.get(wd)
            if node is None:
                if mask & sys_.IN_Q_OVERFLOW:
                    overflow = True
                continue
            if not length:
                self._self_event(node, mask)
                continue
            name = buf[start:pos].rstrip(b"\0").decode(_FS_ENCODING, _FS_ERRORS)
            if self._rules.child(node.key, name):
                continue
            if mask & sys_.IN_ISDIR:
                self._dir_event(node, name, mask, cookie)
            elif mask & sys_.IN_MOVED_FROM:
                self._moves[cookie] = (node, name, False)
            elif mask & sys_.IN_MOVED_TO:
                self._moved_in(node, name, cookie, now, wall)
            elif mask & sys_.IN_DELETE:
                self._complete((node, name), now, wall)
        if run_mask:
            self._file_run(run_wd, run_raw, run_mask, now, wall)
        self.stats.events_read += count
        if overflow:
            self._overflow(drained_ns)

    def _file_run(self, wd: int, raw: bytes, mask: int, now: float, wall: float) -> None:
        """Created and/or written, possibly closed: dirty until closed (or quiet)."""
        node = self._nodes.get(wd)
        if node is None:
            return
        name = raw.rstrip(b"\0").decode(_FS_ENCODING, _FS_ERRORS)
        if self._rules.child(node.key, name):
            return
        key = (node, name)
        deb = self._deb
        if mask & _CLOSE:
            # A close without a write before it is a touch or an idle open: nothing changed.
            if mask & _WRITTEN or deb.is_dirty(key):
                self._complete(key, now, wall)
        else:
            deb.dirty(key, now=now, wall=wall)
            if mask & sys_.IN_CREATE:
                self._created.append(key)

    def _complete(
        self,
        key: FileKey,
        now: float,
        wall: float,
        moved_from: str | None = None,
        *,
        regular: bool = False,
    ) -> None:
        """Record a complete change; release it now unless its window is open.

        `regular` says the caller has just seen a regular file there (a directory scan), which
        spares the release its own lstat.
        """
        self._changes += 1
        rel = self._deb.complete(key, now=now, wall=wall, moved_from=moved_from)
        if rel is None:
            return
        if regular:
            node, name = key
            node.add_file(name)
            self._emit(node.root, node.file_key(name), _PUT, wall, moved_from)
        else:
            self._release(rel)

    def _moved_in(self, node: DirNode, name: str, cookie: int, now: float, wall: float) -> None:
        source = self._moves.pop(cookie, None)
        if source is None or source[2]:
            self._complete((node, name), now, wall)
            return
        old_node, old_name, _ = source
        # The put that names its origin goes first, so a destination can rename in place.
        self._complete((node, name), now, wall, old_node.file_key(old_name))
        self._complete((old_node, old_name), now, wall)

    def _settle_moves(self) -> None:
        """Resolve IN_MOVED_FROM records whose partner has not arrived: moved out of the tree."""
        # Both halves of a rename are queued by one system call; if the second is not readable
        # yet it will be within microseconds, so wait briefly before calling it a move out.
        if self._poll_fd_once(_MOVE_PAIR_WAIT_MS):
            return
        now, wall = time.monotonic(), time.time()
        moves, self._moves = self._moves, {}
        for node, name, is_dir in moves.values():
            if not node.alive:
                continue
            if is_dir:
                child = node.children.get(name)
                if child is not None:
                    self._tree.drop_subtree(child, wall)
            else:
                self._complete((node, name), now, wall)

    def _poll_fd_once(self, timeout_ms: int) -> bool:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        return bool(poller.poll(timeout_ms))

    def _check_created(self) -> None:
        """Settle files created without a write: hard links are complete, FIFOs never are."""
        created, self._created = self._created, []
        deb = self._deb
        now, wall = time.monotonic(), self._tree.wall
        for key in created:
            if not deb.is_dirty(key) or not key[0].alive:
                continue
            node, name = key
            try:
                st = os.lstat(f"{node.path}{os.sep}{name}")
            except OSError:
                deb.complete(key, now=now, wall=wall)  # gone: let the release decide
                continue
            if not stat.S_ISREG(st.st_mode):
                deb.discard(key)
            elif st.st_nlink > 1:
                self._complete(key, now, wall)

    def _self_event(self, node: DirNode, mask: int) -> None:
        root = node.root
        if mask & sys_.IN_IGNORED:
            self._nodes.pop(node.wd, None)
            if node.alive:
                if node is root.node:
                    self._tree.lose_root(root, "watched root is gone")
                else:
                    self._tree.drop_subtree(node, self._tree.wall)
        elif node is root.node and mask & (sys_.IN_DELETE_SELF | sys_.IN_MOVE_SELF):
            reason = (
                "watched root was deleted"
                if mask & sys_.IN_DELETE_SELF
                else ("watched root was moved away")
            )
            self._tree.lose_root(root, reason)
        elif node is root.node and mask & sys_.IN_UNMOUNT:
            self._tree.lose_root(root, "watched root was unmounted")

    def _dir_event(self, node: DirNode, name: str, mask: int, cookie: int) -> None:
        if mask & (sys_.IN_CREATE | sys_.IN_MOVED_TO):
            source = self._moves.pop(cookie, None) if mask & sys_.IN_MOVED_TO else None
            if source is not None and source[2] and source[0].alive:
                old_parent, old_name, _ = source
                child = old_parent.children.get(old_name)
                if child is not None:
                    self._tree.rename_subtree(child, node, name)
                    return
            self._tree.add_dir(node, name)
        elif mask & sys_.IN_MOVED_FROM:
            self._moves[cookie] = (node, name, True)
        elif mask & sys_.IN_DELETE:
            child = node.children.get(name)
            if child is not None:
                self._tree.drop_subtree(child, self._tree.wall)

    def _overflow(self, drained_ns: int) -> None:
        """The kernel dropped events: forget unpaired moves, rescan and emit what changed."""
        self._moves.clear()
        self._rescan.run(drained_ns)

    # ----------------------------------------------------------------- output

    def _release(self, rel: Release[FileKey]) -> None:
        node, name = rel.key
        if not node.alive:
            return
        kind = _kind(f"{node.path}{os.sep}{name}")
        if kind < 0 and not node.intact():
            # The directory was renamed (or removed) on disk with its events still queued: the
            # path is stale, not the file gone. Keep the name, so the rename's events carry it
            # to its new key (or its removal gives the delete).
            node.add_file(name)
            return
        if kind > 0:
            node.add_file(name)
            moved_from = rel.moved_from
            self._emit(
                node.root,
                node.file_key(name),
                _PUT,
                rel.time,
                moved_from if isinstance(moved_from, str) else None,
            )
        elif node.has_file(name):
            node.discard_file(name)
            self._emit(node.root, node.file_key(name), _DELETE, rel.time, None)

    def _emit(
        self, root: Root, key: str, op: Operation, wall: float, moved_from: str | None
    ) -> None:
        self._output.emit(root.path, key, op, wall, moved_from)
        self._emitted += 1
        if not self._emitted & 2047:
            # Long runs of releases (a window closing on a burst, a rescan) must not starve
            # the kernel queue either.
            self._drain_kernel()

    def _deleted(self, root: Root, key: str, wall: float) -> None:
        self._emit(root, key, _DELETE, wall, None)

    def _flush(self, *, defer: bool = False) -> None:
        """Hand released events to the consumer; pause reading while too many paths wait.

        With `defer` the consumers are woken by the next `_wait`.
        """
        self._output.flush(defer=defer)
        pending = len(self._deb) + len(self._output)
        self.stats.watches = len(self._nodes)
        reading = pending < self._config.max_pending
        if reading != self._reading:
            self._reading = reading
            self._events = select.POLLIN if reading else 0
            self._poll.modify(self._fd, self._events)
            if not reading:
                self._log.warning(
                    "consumer is slow: %d paths pending; pausing reads (a rescan will follow "
                    "if the kernel queue overflows)",
                    pending,
                )


def _kind_python(path: str) -> int:
    """1 for a regular file, 0 for anything else, -1 when it cannot be lstat'ed."""
    try:
        return 1 if stat.S_ISREG(os.lstat(path).st_mode) else 0
    except OSError:
        return -1


_c_wait: Callable[[int, int, int, int, int, int, float, int], int] | None
try:  # the optional C extension keeps the GIL through the lstat (see _scan.c)
    from fsreplica.watch._scan import is_regular as _kind
except ImportError:  # pragma: no cover - built wherever the tests run
    _kind = _kind_python
try:
    from fsreplica.watch._scan import wait as _c_wait
except ImportError:  # pragma: no cover - an extension built before wait() was added
    _c_wait = None
