"""Polling cost: fsreplica's polling backend against watchdog's PollingObserver and watchfiles'
forced polling, plus the portable backend in a burst.

    python benchmarks/polling_bench.py                    # full run: about 3-4 minutes on 2 cores
    python benchmarks/polling_bench.py --quick            # smoke run: 10,000 files, fewer samples
    python benchmarks/polling_bench.py --json /tmp/p.json # every sample too

What it measures, each tool in a fresh worker process (this script, `--worker ...`):

- CPU seconds per poll of a tree of 10,000 and 100,000 files (1 and 10 per directory level
  below 100 top directories, 100 files per directory): the CPU clock of the tool's polling
  thread(s) only, sampled every 5 ms; a poll is a run of samples with CPU use, the first
  (the initial snapshot) is dropped, the median of the rest is reported.
- Memory growth between polls: RSS after the last poll minus RSS after the second (up to 64 KiB,
  a few allocator pages, counts as none).
- Detection latency on the 10,000-file tree: a new file is written at a random moment of the
  interval and the time until the tool reports it is measured, with the default interval (2 s)
  and a short one (0.25 s). The target is "within one interval" (plus the poll's own time).
- The portable backend (watchdog's inotify observer on Linux) in a burst of 10,000 files into
  100 directories created during the burst, written by a separate process: paths lost.

Tools: fsreplica `Watcher(backend="polling", debounce_delay=0)`; watchdog `PollingObserver`;
watchfiles `watch(force_polling=True, poll_delay_ms=interval, debounce=1, step=1)` in a thread.
Ratios are peer / fsreplica: above 1 means fsreplica is cheaper or faster.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

TOOLS = ("fsreplica", "watchdog", "watchfiles")
FILES_PER_DIR = 100
SAMPLE = 0.005  # seconds between CPU clock samples
IDLE_SAMPLES = 4  # consecutive samples without CPU use that end a poll
BUSY_NS = 50_000  # CPU use in one sample that counts as polling (not a stray wake-up)
TARGET_CPU_100K = 0.25
RSS_NOISE_KIB = 64  # RSS moves by a few pages between polls (allocator arenas); more is growth


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- trees


def build_tree(root: str, files: int) -> None:
    """`files` files, 100 per directory, in directories spread under 100 top directories."""
    dirs = max(1, files // FILES_PER_DIR)
    payload = b"fsreplica polling benchmark\n"
    for d in range(dirs):
        path = os.path.join(root, f"t{d % 100:02d}", f"s{d:05d}")
        os.makedirs(path)
        for f in range(FILES_PER_DIR):
            with open(os.path.join(path, f"f{f:03d}.txt"), "wb") as out:
                out.write(payload)


# ----------------------------------------------------------------- per-thread CPU


def _thread_clock(tid: int) -> int:
    """The CPU clock of a thread of this process, by its kernel thread id (Linux)."""
    return ((~tid) << 3) | 6  # CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD, as glibc builds it


def _cpu_ns(tids: list[int]) -> int:
    total = 0
    for tid in tids:
        try:
            total += time.clock_gettime_ns(_thread_clock(tid))
        except OSError:  # the thread ended
            continue
    return total


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _native_threads() -> set[int]:
    return {int(t) for t in os.listdir("/proc/self/task")}


class Started:
    """A running tool: its polling threads, how to stop it, what it reported (path -> time)."""

    def __init__(self) -> None:
        self.tids: list[int] = []
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self.stop: Callable[[], None] = lambda: None

    def report(self, path: str) -> None:
        now = time.monotonic()
        with self.cond:
            self.seen.setdefault(path, now)
            self.cond.notify_all()


def start_fsreplica(root: str, interval: float) -> Started:
    import fsreplica  # noqa: PLC0415 - each worker imports only the tool it measures

    started = Started()
    watcher = fsreplica.Watcher(
        fsreplica.WatcherConfig(backend="polling", poll_interval=interval, debounce_delay=0)
    )
    watcher.watch(root)

    def consume() -> None:
        for event in watcher.events():
            started.report(event.path)

    consumer = threading.Thread(target=consume, name="bench-consumer")
    consumer.start()
    started.tids = [
        t.native_id
        for t in threading.enumerate()
        if t.name == "fsreplica-polling" and t.native_id is not None
    ]

    def stop() -> None:
        watcher.stop()
        consumer.join()

    started.stop = stop
    return started


def start_watchdog(root: str, interval: float) -> Started:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler  # noqa: PLC0415
    from watchdog.observers.polling import PollingObserver  # noqa: PLC0415

    started = Started()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, event: FileSystemEvent) -> None:
            started.report(os.fsdecode(event.dest_path or event.src_path))

    observer = PollingObserver(timeout=interval)
    observer.schedule(Handler(), root, recursive=True)
    observer.start()
    started.tids = [e.native_id for e in observer.emitters if e.native_id is not None]

    def stop() -> None:
        observer.stop()
        observer.join()

    started.stop = stop
    return started


def start_watchfiles(root: str, interval: float) -> Started:
    import watchfiles  # noqa: PLC0415

    started = Started()
    stop_event = threading.Event()
    before = _native_threads()

    def consume() -> None:
        for changes in watchfiles.watch(
            root,
            force_polling=True,
            poll_delay_ms=int(interval * 1000),
            debounce=1,
            step=1,
            stop_event=stop_event,
            raise_interrupt=False,
        ):
            for _, path in changes:
                started.report(path)

    consumer = threading.Thread(target=consume, name="bench-consumer")
    consumer.start()
    # watchfiles' poll loop is a Rust thread: the thread that is new and not a Python one.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        python = {t.native_id for t in threading.enumerate()}
        started.tids = sorted(_native_threads() - before - python)
        if started.tids:
            break
        time.sleep(0.01)

    def stop() -> None:
        stop_event.set()
        consumer.join()

    started.stop = stop
    return started


STARTERS: dict[str, Callable[[str, float], Started]] = {
    "fsreplica": start_fsreplica,
    "watchdog": start_watchdog,
    "watchfiles": start_watchfiles,
}


# ----------------------------------------------------------------- worker scenarios


def measure_cost(tool: str, root: str, polls: int, interval: float) -> dict[str, Any]:
    """CPU per poll (runs of busy samples on the polling threads) and RSS growth."""
    started = STARTERS[tool](root, interval)
    try:
        segments: list[int] = []
        rss: list[int] = []
        last = _cpu_ns(started.tids)
        busy, idle = 0, 0
        deadline = time.monotonic() + (polls + 2) * (interval + 30)
        while len(segments) < polls + 1 and time.monotonic() < deadline:
            time.sleep(SAMPLE)
            now = _cpu_ns(started.tids)
            delta, last = now - last, now
            if delta > BUSY_NS:
                busy += delta
                idle = 0
            elif busy:
                busy += delta
                idle += 1
                if idle >= IDLE_SAMPLES:
                    segments.append(busy)
                    rss.append(_rss_kib())
                    busy, idle = 0, 0
        per_poll = [s / 1e9 for s in segments[1:]]  # the first is the initial snapshot
        return {
            "cpu_per_poll": per_poll,
            "rss_growth_kib": rss[-1] - rss[1] if len(rss) > 2 else None,
            "rss_kib": rss[-1] if rss else None,
        }
    finally:
        started.stop()


def _wait_for(started: Started, path: str, timeout: float) -> float | None:
    with started.cond:
        started.cond.wait_for(lambda: path in started.seen, timeout=timeout)
        return started.seen.get(path)


def measure_latency(tool: str, root: str, samples: int, interval: float) -> dict[str, Any]:
    """Seconds from a file's close to its report, written at random moments of the interval."""
    started = STARTERS[tool](root, interval)
    latencies: list[float] = []
    rng = random.Random(5)
    try:
        time.sleep(interval)  # past the first snapshot
        for n in range(samples):
            time.sleep(rng.uniform(0, interval))  # a random phase of the poll cycle
            path = os.path.join(root, f"latency-{tool}-{interval}-{n}.txt")
            with open(path, "wb") as f:
                f.write(b"x")
            t0 = time.monotonic()
            arrived = _wait_for(started, path, interval * 3 + 10)
            latencies.append(arrived - t0 if arrived is not None else float("inf"))
        return {"latency": latencies}
    finally:
        started.stop()
        for n in range(samples):
            try:
                os.unlink(os.path.join(root, f"latency-{tool}-{interval}-{n}.txt"))
            except FileNotFoundError:
                pass


_WRITER = """
import os, sys
root, count, dirs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.stdin.readline()
per = count // dirs
for d in range(dirs):
    base = os.path.join(root, f"n{d:03d}", "sub")
    os.makedirs(base)
    for f in range(per):
        with open(os.path.join(base, f"f{f:04d}.txt"), "wb") as out:
            out.write(b"x")
"""


def measure_portable_burst(root: str, files: int) -> dict[str, Any]:
    """The portable backend while a separate process makes 100 directories and `files` files."""
    import fsreplica  # noqa: PLC0415

    dirs = 100
    watcher = fsreplica.Watcher(fsreplica.WatcherConfig(backend="portable", debounce_delay=0))
    watcher.watch(root)
    started = Started()

    def consume() -> None:
        for event in watcher.events():
            if event.operation == "put":
                started.report(event.path)

    consumer = threading.Thread(target=consume, name="bench-consumer")
    consumer.start()
    expected = {
        os.path.join(root, f"n{d:03d}", "sub", f"f{f:04d}.txt")
        for d in range(dirs)
        for f in range(files // dirs)
    }
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, root, str(files), str(dirs)], stdin=subprocess.PIPE
    )
    cpu0 = time.process_time() - time.thread_time()
    t0 = time.monotonic()
    assert writer.stdin is not None
    writer.stdin.write(b"go\n")
    writer.stdin.close()
    try:
        with started.cond:
            # done when every path arrived, or when nothing arrived for 5 s after the writer ended
            while not expected <= started.seen.keys():
                before = len(started.seen)
                started.cond.wait(5.0)
                if len(started.seen) == before and writer.poll() is not None:
                    break
        elapsed = max(started.seen.values(), default=t0) - t0
        cpu = time.process_time() - time.thread_time() - cpu0
    finally:
        writer.wait()
        watcher.stop()
        consumer.join()
    lost = len(expected - started.seen.keys())
    return {"files": files, "lost": lost, "seconds": elapsed, "cpu": cpu}


def worker(argv: list[str]) -> None:
    kind, tool, root = argv[0], argv[1], argv[2]
    number, interval = int(argv[3]), float(argv[4])
    if kind == "cost":
        result = measure_cost(tool, root, number, interval)
    elif kind == "latency":
        result = measure_latency(tool, root, number, interval)
    else:
        result = measure_portable_burst(root, number)
    print(json.dumps(result))


def run_worker(*args: object) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if proc.returncode != 0:
        _log(f"worker {args[:2]} failed: {proc.stderr.strip().splitlines()[-1:]}")
        return {}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------- report


def _ratio(peer: float | None, ours: float | None) -> str:
    if peer is None or ours is None or ours <= 0:
        return "-"
    return f"{peer / ours:.1f}x"


def _median(values: list[float] | None) -> float | None:
    values = [v for v in values or [] if v != float("inf")]
    return statistics.median(values) if values else None


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.3f}{unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10,000 files only, fewer samples")
    parser.add_argument("--polls", type=int, default=7, help="polls measured per tool and size")
    parser.add_argument("--samples", type=int, default=7, help="latency samples per setting")
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--dir", default="/var/tmp", help="where the trees are built")
    parser.add_argument("--json", help="write every sample to this file")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    sizes = [10_000] if args.quick else [10_000, 100_000]
    polls, samples = (3, 3) if args.quick else (args.polls, args.samples)
    for peer in ("watchdog", "watchfiles"):
        if peer in tools and importlib.util.find_spec(peer) is None:
            _log(f"installing {peer} with pip")
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", peer], check=False)

    scratch = tempfile.mkdtemp(prefix="fsreplica-pollbench-", dir=args.dir)
    results: dict[str, Any] = {"cost": {}, "latency": {}, "burst": None}
    try:
        for size in sizes:
            root = os.path.join(scratch, f"tree{size}")
            os.mkdir(root)
            _log(f"building {size} files")
            build_tree(root, size)
            for tool in tools:
                interval = 1.0 if size >= 100_000 else 0.5
                _log(f"cost: {tool} on {size} files")
                results["cost"][f"{tool}/{size}"] = run_worker("cost", tool, root, polls, interval)
            if size == 10_000:
                for interval in (2.0, 0.25):
                    for tool in tools:
                        _log(f"latency: {tool}, interval {interval} s")
                        results["latency"][f"{tool}/{interval}"] = run_worker(
                            "latency", tool, root, samples, interval
                        )
            shutil.rmtree(root)
        burst_root = os.path.join(scratch, "burst")
        os.mkdir(burst_root)
        _log("portable backend: burst of 10,000 files into new directories")
        results["burst"] = run_worker("burst", "fsreplica", burst_root, 10_000, 0)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    _report(results, tools, sizes)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
    return 0


def _report(results: dict[str, Any], tools: list[str], sizes: list[int]) -> None:
    peers = [t for t in tools if t != "fsreplica"]
    head = " | ".join(f"{p} | ratio" for p in peers)
    print(f"\n| measure | fsreplica | {head} | target |")
    print("|" + " --- |" * (3 + 2 * len(peers)))
    for size in sizes:
        cost = {t: results["cost"].get(f"{t}/{size}", {}) for t in tools}
        cpu = {t: _median(cost[t].get("cpu_per_poll")) for t in tools}
        cells = " | ".join(
            f"{_fmt(cpu[p], ' s')} | {_ratio(cpu[p], cpu['fsreplica'])}" for p in peers
        )
        target = ""
        if size >= 100_000 and cpu["fsreplica"] is not None:
            ours = cpu["fsreplica"]
            ok = ours <= TARGET_CPU_100K and all(
                (peer := cpu[p]) is None or ours < peer for p in peers
            )
            target = f"<= {TARGET_CPU_100K} s and < peers: {'met' if ok else 'MISSED'}"
        ours_cpu = _fmt(cpu["fsreplica"], " s")
        print(f"| CPU per poll, {size:,} files (median) | {ours_cpu} | {cells} | {target} |")
        growth = {t: cost[t].get("rss_growth_kib") for t in tools}
        cells = " | ".join(f"{growth[p]} KiB | " for p in peers)
        ok = growth["fsreplica"] is not None and growth["fsreplica"] <= RSS_NOISE_KIB
        verdict = "met" if ok else "MISSED"
        print(
            f"| RSS growth between polls, {size:,} files | {growth['fsreplica']} KiB | {cells} "
            f"| none: {verdict} |"
        )
    for interval in sorted({float(k.split("/")[1]) for k in results["latency"]}, reverse=True):
        lat = {t: results["latency"].get(f"{t}/{interval}", {}).get("latency") for t in tools}
        med = {t: _median(lat[t]) for t in tools}
        worst = {t: max(lat[t]) if lat[t] else None for t in tools}
        cells = " | ".join(
            f"{_fmt(med[p], ' s')} (max {_fmt(worst[p])}) | {_ratio(med[p], med['fsreplica'])}"
            for p in peers
        )
        ok = worst["fsreplica"] is not None and worst["fsreplica"] <= interval * 1.2 + 0.05
        print(
            f"| detection latency, interval {interval} s, 10,000 files | "
            f"{_fmt(med['fsreplica'], ' s')} (max {_fmt(worst['fsreplica'])}) | {cells} | "
            f"within one interval: {'met' if ok else 'MISSED'} |"
        )
    burst = results["burst"] or {}
    if burst:
        ok = burst["lost"] == 0
        print(
            f"| portable backend, 10,000-file burst into new directories | {burst['lost']} lost, "
            f"{burst['seconds']:.2f} s, {burst['cpu']:.2f} CPU s |"
            + " |" * (2 * len(peers))
            + f" 0 lost: {'met' if ok else 'MISSED'} |"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
