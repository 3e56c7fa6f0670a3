"""One driver per tool, all behind the same small interface.

Every driver feeds a `Sink` with (operation, key relative to the root) from a single consumer
thread, and says how to read the CPU time, memory and wakeups of whatever does the watching: this
process for the Python libraries, the child process for inotifywait.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import IO, Any, ClassVar

from _watch_common import DELETE, PUT, TOUCH, Sink, context_switches, memory, thread_cpu_seconds

TOOLS = ("fsreplica", "watchdog", "watchfiles", "inotifywait", "naive")


@dataclass(frozen=True)
class Tuning:
    """Per-scenario settings, translated by each driver into its tool's closest equivalent.

    Attributes:
        low_latency: fsreplica debounce 0; watchfiles debounce and step 1 ms (its lowest);
            inotifywait listens to close_write only.
        event_buffer: fsreplica's consumer buffer (None: its default).
        max_pending: fsreplica's backlog limit before it stops reading (None: its default).
    """

    low_latency: bool = False
    event_buffer: int | None = None
    max_pending: int | None = None


class Adapter(ABC):
    """Drives one tool watching one root."""

    name: ClassVar[str]

    def __init__(self, sink: Sink, tuning: Tuning) -> None:
        self.sink = sink
        self.tuning = tuning
        self.root = ""
        self._prefix = ""

    @abstractmethod
    def load(self) -> None:
        """Import the tool (so a baseline RSS can be taken before it watches anything)."""

    @abstractmethod
    def start(self, root: str) -> None:
        """Watch `root` recursively; return once the tool is watching and its consumer runs."""

    @abstractmethod
    def stop(self) -> None:
        """Stop watching and end the consumer thread; the gate is opened first."""

    def watching_process(self) -> tuple[int | str, int | None]:
        """The process doing the watching, and the thread of it not to count (the harness's)."""
        return "self", threading.main_thread().native_id

    def cpu_seconds(self) -> float:
        """CPU time of the watching threads, exact even while they run.

        This process less the calling thread: call it from the main thread, whose polling and
        /proc reads are then never charged to the tool.
        """
        return time.process_time() - time.thread_time()

    def settled_cpu_seconds(self) -> float:
        """CPU time of the watching threads from the scheduler's per-thread totals.

        Exact while they sleep (the idle scenario), where `cpu_seconds` would show the few
        hundred nanoseconds between its two clock reads.
        """
        pid, skip = self.watching_process()
        return thread_cpu_seconds(pid, skip_tid=skip)

    def memory(self) -> tuple[int, int]:
        """(RSS, peak RSS) in bytes of the process doing the watching."""
        return memory(self.watching_process()[0])

    def wakeups(self) -> int:
        """Context switches of the watching threads."""
        pid, skip = self.watching_process()
        return context_switches(pid, skip_tid=skip)

    def overflows(self) -> int | None:
        """Kernel queue overflows the tool noticed, when it says."""
        return None

    def _set_root(self, root: str) -> None:
        self.root = root
        self._prefix = root.rstrip("/") + "/"

    def _key(self, path: str) -> str:
        prefix = self._prefix
        return path[len(prefix) :] if path.startswith(prefix) else path


def make_adapter(tool: str, sink: Sink, tuning: Tuning) -> Adapter:
    """Return the driver for `tool` (one of TOOLS)."""
    drivers: dict[str, type[Adapter]] = {
        "fsreplica": FsreplicaAdapter,
        "watchdog": WatchdogAdapter,
        "watchfiles": WatchfilesAdapter,
        "inotifywait": InotifywaitAdapter,
        "naive": NaiveAdapter,
    }
    return drivers[tool](sink, tuning)


def _start_thread(target: Any, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


# ----------------------------------------------------------------- fsreplica


class FsreplicaAdapter(Adapter):
    """fsreplica.Watcher read through `events()`, as an application would."""

    name = "fsreplica"

    def load(self) -> None:
        import fsreplica  # noqa: PLC0415 - imported late so the baseline RSS excludes it

        self._fs = fsreplica
        self._watcher: Any = None
        self._thread: threading.Thread | None = None

    def start(self, root: str) -> None:
        fs = self._fs
        settings: dict[str, Any] = {"ignore": fs.DEFAULT_IGNORE}
        if self.tuning.low_latency:
            settings["debounce_delay"] = 0.0
        if self.tuning.event_buffer is not None:
            settings["event_buffer"] = self.tuning.event_buffer
        if self.tuning.max_pending is not None:
            settings["max_pending"] = self.tuning.max_pending
        self._set_root(root)
        self._watcher = fs.Watcher(fs.WatcherConfig(**settings))
        self._watcher.watch(root)
        self._thread = _start_thread(self._consume, "bench-consumer")

    def _consume(self) -> None:
        sink = self.sink
        for event in self._watcher.events():
            sink(event.operation, event.key)

    def stop(self) -> None:
        self.sink.gate.set()
        if self._watcher is not None:
            self._watcher.stop()
        if self._thread is not None:
            self._thread.join(10)

    def overflows(self) -> int | None:
        return int(self._watcher.stats.overflows) if self._watcher is not None else None


# ----------------------------------------------------------------- watchdog


class _OverflowCounter(logging.Handler):
    """watchdog only logs a kernel queue overflow; count those records."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.count += 1


class WatchdogAdapter(Adapter):
    """watchdog's InotifyObserver with a handler that forwards file events."""

    name = "watchdog"

    def load(self) -> None:
        from watchdog import events  # noqa: PLC0415
        from watchdog.observers.inotify import InotifyObserver  # noqa: PLC0415

        self._events = events
        self._observer_class = InotifyObserver
        self._observer: Any = None
        self._overflow_log = _OverflowCounter()
        log = logging.getLogger("watchdog")
        log.setLevel(logging.WARNING)  # the worker's root logger only passes errors
        log.addHandler(self._overflow_log)

    def start(self, root: str) -> None:
        ev = self._events
        self._set_root(root)
        # Subscribe to what fsreplica's inotify mask covers (no open/attrib/close-nowrite), which
        # is also watchdog's fastest configuration.
        wanted = [
            ev.FileCreatedEvent,
            ev.FileModifiedEvent,
            ev.FileClosedEvent,
            ev.FileMovedEvent,
            ev.FileDeletedEvent,
            ev.DirCreatedEvent,
            ev.DirMovedEvent,
            ev.DirDeletedEvent,
        ]
        self._observer = self._observer_class()
        self._observer.schedule(_handler(ev, self), root, recursive=True, event_filter=wanted)
        self._observer.start()  # the inotify watches are added here, in this thread

    def stop(self) -> None:
        self.sink.gate.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(10)

    def overflows(self) -> int | None:
        return self._overflow_log.count

    def forward(self, event: Any) -> None:
        """Turn one watchdog event into sink calls."""
        if event.is_directory:
            return
        kind = event.event_type
        sink = self.sink
        if kind == "closed":
            sink(PUT, self._key(event.src_path))
        elif kind in ("created", "modified"):
            sink(TOUCH, self._key(event.src_path))
        elif kind == "deleted":
            sink(DELETE, self._key(event.src_path))
        elif kind == "moved":
            sink(DELETE, self._key(event.src_path))
            sink(PUT, self._key(event.dest_path))


def _handler(events: Any, adapter: WatchdogAdapter) -> Any:
    class Forward(events.FileSystemEventHandler):  # type: ignore[misc]
        def dispatch(self, event: Any) -> None:  # skip watchdog's per-type dispatch
            adapter.forward(event)

    return Forward()


# ----------------------------------------------------------------- watchfiles


class WatchfilesAdapter(Adapter):
    """watchfiles, driven the way `watchfiles.watch()` drives it.

    `watch()` builds its RustNotify (which adds every watch) inside the generator and gives no
    sign when that is done, so this driver builds the RustNotify itself and runs the same loop:
    the same Change conversion and DefaultFilter as `watch()`, with rust_timeout 5000 ms.
    """

    name = "watchfiles"

    def load(self) -> None:
        import watchfiles  # noqa: PLC0415
        from watchfiles._rust_notify import RustNotify  # noqa: PLC0415

        self._wf = watchfiles
        self._rust_notify = RustNotify
        self._notify: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, root: str) -> None:
        self._set_root(root)
        # watch_paths, debug, force_polling, poll_delay_ms, recursive, ignore_permission_denied
        self._notify = self._rust_notify([root], False, False, 300, True, False)
        self._thread = _start_thread(self._consume, "bench-consumer")

    def _consume(self) -> None:
        debounce, step = (1, 1) if self.tuning.low_latency else (100, 50)
        change = self._wf.Change
        deleted = change.deleted
        keep = self._wf.DefaultFilter()
        sink, key = self.sink, self._key
        notify = self._notify
        while True:
            raw = notify.watch(debounce, step, 5000, self._stop)
            if raw == "stop":
                break
            if isinstance(raw, str):  # timeout or signal: watch() loops on
                continue
            changes = {(change(c), path) for c, path in raw}
            for kind, path in changes:
                if keep(kind, path):
                    sink(DELETE if kind == deleted else PUT, key(path))
        notify.close()

    def stop(self) -> None:
        self.sink.gate.set()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


# ----------------------------------------------------------------- inotifywait


_REPLICATION_EVENTS = "close_write,moved_to,delete,moved_from"
"""What a replicator needs from inotifywait (recursion adds watches for new directories itself)."""


class InotifywaitAdapter(Adapter):
    """`inotifywait -m -r` (inotify-tools, C) in a child process, its stdout read line by line."""

    name = "inotifywait"

    def load(self) -> None:
        exe = shutil.which("inotifywait")
        if exe is None:
            raise RuntimeError("inotifywait is not installed (apt-get install inotify-tools)")
        self._exe = exe
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []

    def start(self, root: str) -> None:
        self._set_root(root)
        events = "close_write" if self.tuning.low_latency else _REPLICATION_EVENTS
        command = [self._exe, "-m", "-r", "-e", events, "--format", "%e|%w%f", root]
        self._proc = proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stderr is not None
        self._wait_established(proc.stderr)
        self._threads = [
            _start_thread(lambda: _drain(proc.stderr), "bench-stderr"),
            _start_thread(self._consume, "bench-consumer"),
        ]

    @staticmethod
    def _wait_established(stderr: IO[bytes]) -> None:
        said = []
        for line in stderr:
            if b"Watches established" in line:
                return
            said.append(line.decode(errors="replace").strip())
        raise RuntimeError(f"inotifywait failed: {' '.join(said)}")

    def _consume(self) -> None:
        assert self._proc is not None
        stdout = self._proc.stdout
        assert stdout is not None
        sink, key = self.sink, self._key
        for raw in stdout:
            flags, _, path = raw.decode(errors="surrogateescape").rstrip("\n").partition("|")
            if "ISDIR" in flags:
                continue
            elif "DELETE" in flags or "MOVED_FROM" in flags:
                sink(DELETE, key(path))
            else:
                sink(PUT, key(path))

    def stop(self) -> None:
        self.sink.gate.set()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
        for thread in self._threads:
            thread.join(10)

    def watching_process(self) -> tuple[int | str, int | None]:
        assert self._proc is not None
        return self._proc.pid, None

    def cpu_seconds(self) -> float:
        return self.settled_cpu_seconds()  # another process: only the scheduler can tell


# ----------------------------------------------------------------- the floor


class NaiveAdapter(Adapter):
    """The floor: a plain Python inotify loop that only reads and parses (`_inotify_floor.py`).

    A close or a move in is a put, a delete or a move out a delete; an overflow rescans the tree
    and reports every file as a put. No debounce, no rename pairing, no back-pressure.
    """

    name = "naive"

    def load(self) -> None:
        import _inotify_floor  # noqa: PLC0415

        self._floor = _inotify_floor
        self._reader: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, root: str) -> None:
        self._set_root(root)
        floor = self._floor
        puts = floor.IN_CLOSE_WRITE | floor.IN_MOVED_TO
        sink, prefix = self.sink, len(os.fsencode(self._prefix))
        fsdecode = os.fsdecode

        def on_path(path: bytes, mask: int, _when: float) -> None:
            if mask & puts:
                sink(PUT, fsdecode(path[prefix:]))
            elif mask & (floor.IN_DELETE | floor.IN_MOVED_FROM):
                sink(DELETE, fsdecode(path[prefix:]))

        self._reader = floor.NaiveInotify(root, on_path)
        self._thread = _start_thread(self._consume, "bench-consumer")

    def _consume(self) -> None:
        reader, stop = self._reader, self._stop
        while not stop.is_set():
            overflows = reader.overflows
            reader.read(0.05)
            if reader.overflows != overflows:
                reader.rescan()

    def stop(self) -> None:
        self.sink.gate.set()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._reader is not None:
            self._reader.close()

    def overflows(self) -> int | None:
        return int(self._reader.overflows) if self._reader is not None else None


def _drain(stream: IO[bytes] | None) -> None:
    if stream is not None:
        for _ in stream:
            pass
