"""The six scenarios. Each runs one tool in this (fresh) process and returns its metrics.

A scenario gets a Spec: the tool, an existing root directory (empty, or a prepared tree for
`ready`) and its parameters. It must leave nothing running when it returns.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import _watch_gen
from _watch_adapters import Adapter, Tuning, make_adapter
from _watch_common import MAX_QUEUED_EVENTS, MB, Sink, kernel_setting, memory, wait_quiet

Metrics = dict[str, float | int | bool | None]
GEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_watch_gen.py")


@dataclass(frozen=True)
class Spec:
    """What one worker process runs."""

    scenario: str
    tool: str
    root: str
    params: dict[str, Any] = field(default_factory=dict)


class Writer:
    """The writer child process (see _watch_gen.py): started early, told to go when measuring."""

    def __init__(self, kind: str, root: str, count: int, rate: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, GEN, kind, root, str(count), str(rate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("writer did not start")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def done(self) -> bool:
        return self.proc.poll() is not None

    def close(self) -> None:
        """Make sure the child is gone (a scenario that failed half way)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()

    def wait(self, timeout: float = 600) -> float:
        """Wait for the writer to finish; return how long it took to write."""
        assert self.proc.stdout is not None
        out, _ = self.proc.communicate(timeout=timeout)
        if self.proc.returncode != 0:
            raise RuntimeError(f"writer failed with exit code {self.proc.returncode}")
        return float(out.split()[-1])


def _started(spec: Spec, tuning: Tuning) -> tuple[Sink, Adapter]:
    sink = Sink()
    adapter = make_adapter(spec.tool, sink, tuning)
    adapter.load()
    adapter.start(spec.root)
    return sink, adapter


# ----------------------------------------------------------------- 1. latency


def latency(spec: Spec) -> Metrics:
    """close() -> the event in the consumer's hands, one file at a time, debounce 0."""
    samples, warmup = int(spec.params["samples"]), int(spec.params["warmup"])
    sink, adapter = _started(spec, Tuning(low_latency=True))
    delays: list[float] = []
    missed = 0
    try:
        for i in range(warmup + samples):
            key = f"lat{i:05d}.txt"
            sink.expect(key)
            fd = os.open(os.path.join(spec.root, key), os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, _watch_gen.PAYLOAD)
            closed_at = time.perf_counter()
            os.close(fd)
            if not sink.hit.wait(2.0):
                missed += 1
            elif i >= warmup:
                delays.append(sink.hit_time - closed_at)
            # Let the watcher go idle again: each sample measures a wakeup, as in real use.
            time.sleep(0.002)
    finally:
        adapter.stop()
    delays.sort()
    return {
        "p50_ms": _quantile(delays, 0.50) * 1000,
        "p99_ms": _quantile(delays, 0.99) * 1000,
        "max_ms": delays[-1] * 1000 if delays else None,
        "samples": len(delays),
        "missed": missed,
    }


def _quantile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ----------------------------------------------------------------- 2 and 3. bursts and the race


def burst(spec: Spec) -> Metrics:
    """COUNT files written as fast as possible into 100 existing directories."""
    _watch_gen.prepare_burst(spec.root)
    count = int(spec.params["count"])
    return _write_and_count(spec, "burst", _watch_gen.burst_keys(count))


def paced(spec: Spec) -> Metrics:
    """COUNT files into 100 existing directories, at RATE files a second (a busy tree)."""
    _watch_gen.prepare_burst(spec.root)
    count = int(spec.params["count"])
    return _write_and_count(spec, "burst", _watch_gen.burst_keys(count), float(spec.params["rate"]))


def race(spec: Spec) -> Metrics:
    """COUNT times `mkdir -p rN/b/c` then write rN/b/c/f.txt, as fast as possible."""
    count = int(spec.params["count"])
    return _write_and_count(spec, "race", _watch_gen.race_keys(count))


def _write_and_count(spec: Spec, kind: str, keys: list[str], rate: float = 0.0) -> Metrics:
    writer = Writer(kind, spec.root, len(keys), rate)  # before the watcher: its fork costs nothing
    sink, adapter = _started(spec, Tuning())
    try:
        cpu_before = adapter.cpu_seconds()
        switches_before = adapter.wakeups()
        started = time.perf_counter()
        writer.go()
        end = wait_quiet(
            sink,
            adapter.cpu_seconds,
            want=len(keys),
            writer_done=writer.done,
            quiet=1.0,
            grace=0.3,
            timeout=30 + len(keys) / (min(rate, 2000) if rate else 2000),
        )
        switches = adapter.wakeups() - switches_before  # before stop() ends the threads
        write_s = writer.wait()
        overflows = adapter.overflows()
        lost = sink.lost(keys)  # now: what a tool hands over only when stopped is too late
    finally:
        adapter.stop()
        writer.close()
    cpu = max(end.cpu - cpu_before, 1e-9)
    return {
        "lost": lost,
        "late": lost - sink.lost(keys),
        "paths_per_cpu_s": (len(keys) - lost) / cpu,
        "cpu_s": cpu,
        "switches_per_path": switches / max(len(keys) - lost, 1),
        "wall_s": end.last_event - started,
        "write_s": write_s,
        "events": sink.events,
        "overflows": overflows,
        "timed_out": end.timed_out,
    }


# ----------------------------------------------------------------- 4. ready time and memory


def ready(spec: Spec) -> Metrics:
    """Time for start() to return on a prepared tree, and the memory that costs."""
    sink = Sink()
    adapter = make_adapter(spec.tool, sink, Tuning())
    in_process = spec.tool != "inotifywait"
    python_rss, _ = memory()  # the interpreter and this harness, before the tool is imported
    adapter.load()
    import_rss, _ = memory()
    started = time.perf_counter()
    adapter.start(spec.root)
    ready_s = time.perf_counter() - started
    try:
        rss, peak = adapter.memory()
        probe_ok = _probe_deepest(spec.root, sink)
    finally:
        adapter.stop()
        _remove_probe(spec.root)
    return {
        "ready_s": ready_s,
        "rss_mb": rss / MB,
        "peak_rss_mb": peak / MB,
        "python_rss_mb": python_rss / MB if in_process else None,
        "import_rss_mb": import_rss / MB if in_process else None,
        "probe_ok": probe_ok,
    }


def _deepest_dir(root: str) -> str:
    path = root
    while True:
        subdirs = sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
        if not subdirs:
            return path
        path = os.path.join(path, subdirs[-1])


def _probe_deepest(root: str, sink: Sink) -> bool:
    """Check the tool really watches the last directory it had to add."""
    path = os.path.join(_deepest_dir(root), "probe.txt")
    key = os.path.relpath(path, root)
    sink.expect(key)
    _watch_gen.write_file(path)
    return sink.hit.wait(5.0)


def _remove_probe(root: str) -> None:
    try:
        os.unlink(os.path.join(_deepest_dir(root), "probe.txt"))
    except FileNotFoundError:
        pass


# ----------------------------------------------------------------- 5. overflow, stalled consumer


def overflow(spec: Spec) -> Metrics:
    """Stall the consumer, write COUNT files past a tiny kernel queue, resume, count."""
    count = int(spec.params["count"])
    keys = _watch_gen.flat_keys(count)
    sink = Sink()
    tuning = Tuning(event_buffer=100, max_pending=int(spec.params["max_pending"]))
    adapter = make_adapter(spec.tool, sink, tuning)
    adapter.load()
    writer = Writer("flat", spec.root, count)
    try:
        with _small_kernel_queue(spec.params):
            adapter.start(spec.root)
        try:
            sink.gate.clear()
            writer.go()
            writer.wait()
            time.sleep(float(spec.params["stall_s"]))  # let the tool fall behind for good
            resumed = time.perf_counter()
            sink.gate.set()
            end = wait_quiet(
                sink,
                adapter.cpu_seconds,
                want=count,
                writer_done=writer.done,
                quiet=1.0,
                grace=0.5,
                timeout=30,
            )
            overflows, lost = adapter.overflows(), sink.lost(keys)
        finally:
            adapter.stop()
    finally:
        writer.close()
    last = max((sink.first_seen[k] for k in keys if k in sink.first_seen), default=resumed)
    return {
        "lost": lost,
        "late": lost - sink.lost(keys),
        "resume_to_all_s": last - resumed if lost == 0 else None,
        "overflows": overflows,
        "timed_out": end.timed_out,
    }


def _small_kernel_queue(params: dict[str, Any]) -> AbstractContextManager[None]:
    """Lower fs.inotify.max_queued_events while the tool creates its inotify instance.

    The kernel copies the setting into an instance when it is created, so it only needs to be
    low for that moment; it is restored on the way out whatever happens.
    """
    queue, restore = params.get("queue_limit"), params.get("queue_restore")
    if queue is None or restore is None:
        return nullcontext()
    return kernel_setting(MAX_QUEUED_EVENTS, int(queue), int(restore))


# ----------------------------------------------------------------- 6. idle


def idle(spec: Spec) -> Metrics:
    """CPU time and wakeups of a watcher of a small tree while nothing changes."""
    _watch_gen.build_tree(spec.root, int(spec.params["dirs"]), int(spec.params["files"]))
    seconds = float(spec.params["seconds"])
    _, adapter = _started(spec, Tuning())
    try:
        time.sleep(0.5)  # whatever start-up work is left
        switches0, cpu0 = adapter.wakeups(), adapter.settled_cpu_seconds()
        time.sleep(seconds)
        cpu1, switches1 = adapter.settled_cpu_seconds(), adapter.wakeups()
    finally:
        adapter.stop()
    return {
        "cpu_ms": (cpu1 - cpu0) * 1000,
        "wakeups_per_s": (switches1 - switches0) / seconds,
    }


SCENARIOS: dict[str, Callable[[Spec], Metrics]] = {
    "latency": latency,
    "burst": burst,
    "paced": paced,
    "race": race,
    "ready": ready,
    "overflow": overflow,
    "idle": idle,
}
