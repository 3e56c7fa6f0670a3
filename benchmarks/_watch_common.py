"""What every scenario shares: the sink that records what a tool reported, process counters read
from /proc, and the kernel setting the overflow scenario lowers.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

PUT = "put"
"""The tool says the file is complete (closed after writing, moved in)."""
DELETE = "delete"
TOUCH = "touch"
"""A peer saw the file appear or change but not that it is complete (watchdog `created`).

Counted as reported when paths lost are counted (generous to the peers), never as the end of a
latency sample.
"""

MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"
MB = 1024 * 1024


class Sink:
    """Collects what one tool reports, from its single consumer thread.

    `gate` stalls the consumer when cleared (the overflow scenario); `expect` arms a latency
    sample. The per-event path is a few dict operations so the harness costs every tool alike.
    """

    def __init__(self) -> None:
        self.events = 0
        self.last_op: dict[str, str] = {}
        self.first_seen: dict[str, float] = {}
        self.gate = threading.Event()
        self.gate.set()
        self.hit = threading.Event()
        self.hit_time = 0.0
        self._wanted: str | None = None

    def expect(self, key: str) -> None:
        """Arm `hit` for the next PUT of `key`."""
        self.hit.clear()
        self._wanted = key

    def __call__(self, op: str, key: str) -> None:
        gate = self.gate
        if not gate.is_set():
            gate.wait()
        now = time.perf_counter()
        self.events += 1
        self.last_op[key] = op
        if op != DELETE and key not in self.first_seen:
            self.first_seen[key] = now
        if op == PUT and key == self._wanted:
            self._wanted = None
            self.hit_time = now
            self.hit.set()

    def lost(self, expected: Iterable[str]) -> int:
        """Count expected keys whose last report is not a put (missing or a stale delete)."""
        last = self.last_op
        return sum(1 for key in expected if last.get(key, DELETE) == DELETE)


# ----------------------------------------------------------------- waiting for quiescence


_POLL_S = 0.02
_BUSY_SHARE = 0.25
"""A tool using more than this share of a CPU between two polls is still at work (a rescan)."""


@dataclass(frozen=True)
class Quiet:
    """How a wait for the end of a burst ended."""

    cpu: float
    """CPU seconds of the watching threads when they were last seen at work."""
    last_event: float
    """perf_counter() of the last event (or of the start when there was none)."""
    timed_out: bool


def wait_quiet(
    sink: Sink,
    cpu: Callable[[], float],
    *,
    want: int,
    writer_done: Callable[[], bool],
    quiet: float,
    grace: float,
    timeout: float,
) -> Quiet:
    """Wait until the tool has stopped working; bounded by `timeout`.

    The tool is at work while events arrive or while it burns CPU (a tool may go silent for
    seconds while it rescans). Done when every wanted key was seen and the tool has been idle for
    `grace` seconds, or when the writer has finished and the tool has been idle for `quiet`
    seconds (it lost paths). The CPU time is the one sampled when the tool was last at work, so
    the idle wait itself is not charged.
    """
    start = time.perf_counter()
    seen, used = sink.events, cpu()
    last_event = last_work = start
    cpu_at_work = used
    while True:
        time.sleep(_POLL_S)
        now, count, before, used = time.perf_counter(), sink.events, used, cpu()
        if count != seen:
            seen, last_event = count, now
        if last_event == now or used - before > _BUSY_SHARE * _POLL_S:
            last_work, cpu_at_work = now, used
        idle = now - last_work
        if len(sink.first_seen) >= want and idle >= grace:
            return Quiet(cpu_at_work, last_event, timed_out=False)
        if idle >= quiet and writer_done():
            return Quiet(cpu_at_work, last_event, timed_out=False)
        if now - start > timeout:
            return Quiet(used, last_event, timed_out=True)


# ----------------------------------------------------------------- /proc counters


def _status(pid: int | str) -> dict[str, str]:
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
        return dict(line.split(":", 1) for line in f if ":" in line)


def memory(pid: int | str = "self") -> tuple[int, int]:
    """Return (VmRSS, VmHWM) of a process in bytes: resident now and at its peak."""
    status = _status(pid)
    return _kib(status["VmRSS"]) * 1024, _kib(status["VmHWM"]) * 1024


def _kib(field: str) -> int:
    return int(field.split(maxsplit=1)[0])


def context_switches(pid: int | str = "self", *, skip_tid: int | None = None) -> int:
    """Sum the voluntary and involuntary context switches of every thread but `skip_tid`.

    A thread blocked in poll() or read() does not switch at all; each wakeup costs at least one.
    """
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        if skip_tid is not None and int(tid) == skip_tid:
            continue
        try:
            status = _status(f"{pid}/task/{tid}")
        except FileNotFoundError:  # the thread just ended
            continue
        total += int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
    return total


def thread_cpu_seconds(pid: int | str, *, skip_tid: int | None = None) -> float:
    """CPU time of a process's threads but `skip_tid`, to the microsecond.

    /proc/PID/stat counts in 10 ms ticks, too coarse for inotifywait; the scheduler's own sum
    (/proc/PID/task/TID/sched, in ms with six decimals) is exact for a thread that is not running
    (a running thread's sum is brought up to date at the next scheduler tick).
    """
    total_ms = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        if skip_tid is not None and int(tid) == skip_tid:
            continue
        try:
            with open(f"/proc/{pid}/task/{tid}/sched", encoding="ascii") as f:
                for line in f:
                    if line.startswith("se.sum_exec_runtime"):
                        total_ms += float(line.split(":", 1)[1])
                        break
        except FileNotFoundError:
            continue
    return total_ms / 1000.0


# ----------------------------------------------------------------- kernel settings


def read_setting(path: str) -> int:
    """Read an integer kernel setting."""
    with open(path, encoding="ascii") as f:
        return int(f.read().strip())


def write_setting(path: str, value: int) -> None:
    """Write an integer kernel setting (root only)."""
    with open(path, "w", encoding="ascii") as f:
        f.write(f"{value}\n")


@contextmanager
def kernel_setting(path: str, value: int, restore: int) -> Iterator[None]:
    """Set a kernel setting for the duration of the block and always put `restore` back."""
    write_setting(path, value)
    try:
        yield
    finally:
        write_setting(path, restore)
