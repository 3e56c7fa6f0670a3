"""Daemon benchmark: one `fsreplica daemon` with many policies beside lsyncd with as many sync{}.

Usage: python benchmarks/daemon_bench.py [--policies 20] [--files 5000] [--repeat 3]
       [--idle 10] [--burst 200] [--samples 30] [--status-interval 15] [--json FILE]
       [--workdir DIR] [--no-lsyncd]

For each run, both replicators get the same N sources of F files each (fresh destinations):

- time until all live: from the start of the process until fsreplica says READY=1 on a
  NOTIFY_SOCKET this script listens on (every policy has finished its first reconcile), and
  until lsyncd has logged "Startup of ... finished" for every sync{} block;
- RSS (VmRSS of the process, plus its children for lsyncd's rsyncs) once live;
- idle CPU seconds and wake-ups over --idle seconds with nothing changing: the context switches
  of every thread of the process (/proc/PID/task/*/status), the target being zero;
- `GET /api/v1/status` over the daemon's Unix socket, p50/p99/max, one request every
  --status-interval ms on a thread of its own from the start of a burst of --burst files in each
  of the N sources until every file is at its destination, with the number of requests answered
  (fsreplica only: lsyncd has no API);
- lag of a single save while the others are busy: a file written in policy 0's source while the
  other N-1 take a burst, until it is at its destination, p50/p99 over --samples saves.

Figures are medians over --repeat runs; ratios are fsreplica / lsyncd in the same run. The load
average is printed at the start and the end. lsyncd runs with `delay = 0` (its default of 15 s
would measure its batching, not its speed) and the default rsync action.
"""

from __future__ import annotations

import argparse
import compileall
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _wait import wait_until

FSREPLICA = [sys.executable, "-m", "fsreplica"]
LIVE_TIMEOUT = 1800.0


def make_sources(root: Path, policies: int, files: int) -> list[Path]:
    sources = []
    for p in range(policies):
        src = root / f"src{p:02d}"
        for i in range(files):
            d = src / f"d{i % 50:02d}"
            if i < 50:
                d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i}.dat").write_bytes(os.urandom(256 + (i * 37) % 2048))
        sources.append(src)
    return sources


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- what a process does ---------------------------------------------------------------------


def rss_kib(pid: int, *, children: bool = False) -> int:
    total = _status_field(pid, "VmRSS")
    if children:
        for child in _children(pid):
            total += _status_field(child, "VmRSS")
    return total


def _status_field(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def switches(pid: int) -> int:
    """Context switches of every thread of `pid` (each one a wake-up, or a preemption)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle(pid: int, seconds: float) -> tuple[float, int]:
    cpu, sw = cpu_seconds(pid), switches(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - cpu, switches(pid) - sw


# -- the two replicators ---------------------------------------------------------------------


class Fsreplica:
    name = "fsreplica"

    def __init__(self, work: Path, sources: list[Path]) -> None:
        self.work = work
        self.dests = [work / f"dst{p:02d}" for p in range(len(sources))]
        self.socket = work / "api.sock"
        config = work / "config.toml"
        text = f'[daemon]\nsocket = "{self.socket}"\n\n'
        for p, (src, dst) in enumerate(zip(sources, self.dests, strict=True)):
            text += (
                f'[[policy]]\nid = "p{p:02d}"\nsource = "{src}"\ndestination = "{dst}"\n'
                f'state = "{work / f"state{p:02d}.db"}"\ndebounce = 0.05\n\n'
            )
        config.write_text(text)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(work / "notify.sock"))
        env = dict(os.environ)
        for name in ("CONFIG", "STATE", "CACHE"):
            (work / "xdg" / name).mkdir(parents=True, exist_ok=True)
            env[f"XDG_{name}_HOME"] = str(work / "xdg" / name)
        env["NOTIFY_SOCKET"] = str(work / "notify.sock")
        self.log = open(work / "daemon.log", "w")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*FSREPLICA, "daemon", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=env,
        )

    def wait_live(self) -> float:
        self.notify.settimeout(LIVE_TIMEOUT)
        while b"READY=1" not in self.notify.recv(65536):
            pass
        return time.perf_counter() - self.started

    def status(self) -> float | None:
        """One `GET /api/v1/status`, timed (None when the daemon has no API)."""
        if not self.socket.exists():
            return None
        start = time.perf_counter()
        conn = _UnixConnection(str(self.socket))
        try:
            conn.request("GET", "/api/v1/status")
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                return None
        finally:
            conn.close()
        return time.perf_counter() - start

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()
        self.log.close()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


class Lsyncd:
    name = "lsyncd"

    def __init__(self, work: Path, sources: list[Path]) -> None:
        self.dests = [work / f"dst{p:02d}" for p in range(len(sources))]
        for dst in self.dests:
            dst.mkdir()
        self.logfile = work / "lsyncd.log"
        config = work / "lsyncd.conf"
        text = (
            f'settings {{ logfile = "{self.logfile}", nodaemon = true, '
            'maxProcesses = 4, inotifyMode = "CloseWrite or Modify" }\n'
        )
        for src, dst in zip(sources, self.dests, strict=True):
            text += f'sync {{ default.rsync, source = "{src}/", target = "{dst}/", delay = 0 }}\n'
        config.write_text(text)
        self.count = len(sources)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            ["lsyncd", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait_live(self) -> float:
        def finished() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lsyncd exited {self.proc.returncode}: see {self.logfile}")
            try:
                return self.logfile.read_text().count("finished.") >= self.count
            except FileNotFoundError:
                return False

        wait_until(finished, LIVE_TIMEOUT, "lsyncd's startup")
        return time.perf_counter() - self.started

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- one run -----------------------------------------------------------------------------------


def burst(sources: list[Path], count: int, tag: str) -> None:
    for src in sources:
        d = src / f"burst-{tag}"
        d.mkdir(exist_ok=True)
        for i in range(count):
            (d / f"b{i}.dat").write_bytes(os.urandom(1024))


def single_save_lag(
    src: Path, dst: Path, others: list[Path], *, samples: int, burst_files: int, tag: str
) -> list[float]:
    """Write one file in `src` while the `others` take bursts; time until it is at `dst`."""
    stop = threading.Event()

    def busy() -> None:
        n = 0
        while not stop.is_set():
            burst(others, max(burst_files // 10, 1), f"{tag}-{n}")
            n += 1

    writer = threading.Thread(target=busy)
    writer.start()
    lags = []
    try:
        for i in range(samples):
            data = f"{tag} {i} {time.time_ns()}".encode()
            target = dst / f"single-{tag}-{i}.txt"
            start = time.perf_counter()
            (src / f"single-{tag}-{i}.txt").write_bytes(data)

            def arrived(target: Path = target, data: bytes = data) -> bool:
                try:
                    return target.read_bytes() == data
                except OSError:
                    return False

            wait_until(arrived, 120, "a single save")
            lags.append(time.perf_counter() - start)
    finally:
        stop.set()
        writer.join()
    return lags


def status_during_burst(
    replicator: Fsreplica, sources: list[Path], args: argparse.Namespace
) -> dict[str, float]:
    """`GET /api/v1/status` every --status-interval ms while all policies replicate a burst.

    The prober runs on its own thread at a steady pace (a request that takes longer delays the
    next, never skips it), from the start of the burst until the daemon has nothing pending, so
    the percentiles cover the whole time the policies are busy, over a few hundred requests.
    """
    times: list[float] = []
    failed = 0
    done = threading.Event()

    def probe() -> None:
        nonlocal failed
        interval = args.status_interval / 1000
        due = time.perf_counter()
        while not done.is_set():
            t = replicator.status()
            if t is None:
                failed += 1
            else:
                times.append(t)
            due = max(due + interval, time.perf_counter())
            done.wait(max(0.0, due - time.perf_counter()))

    prober = threading.Thread(target=probe)
    started = time.perf_counter()
    prober.start()
    try:
        burst(sources, args.burst, "status")
        end = time.monotonic() + LIVE_TIMEOUT
        while not all(_count(dst / "burst-status") >= args.burst for dst in replicator.dests):
            if time.monotonic() > end:
                raise TimeoutError("the burst at every destination")
            time.sleep(0.1)  # a listing of 20 directories, not a busy loop beside the daemon
    finally:
        done.set()
        prober.join()
    return {
        "status_p50_ms": pct(times, 0.5) * 1000,
        "status_p99_ms": pct(times, 0.99) * 1000,
        "status_max_ms": max(times) * 1000,
        "status_requests": len(times),
        "status_failed": failed,
        "burst_s": time.perf_counter() - started,
    }


def _count(directory: Path) -> int:
    try:
        return sum(1 for name in os.listdir(directory) if name.endswith(".dat"))
    except FileNotFoundError:
        return 0


def run_one(
    kind: str, work: Path, sources: list[Path], args: argparse.Namespace
) -> dict[str, float]:
    replicator: Fsreplica | Lsyncd = (
        Fsreplica(work, sources) if kind == "fsreplica" else Lsyncd(work, sources)
    )
    out: dict[str, float] = {}
    try:
        out["live_s"] = replicator.wait_live()
        time.sleep(1.0)  # let the last copies settle before measuring idleness
        pid = replicator.proc.pid
        out["rss_mib"] = rss_kib(pid, children=True) / 1024
        cpu, wakeups = idle(pid, args.idle)
        out["idle_cpu_s"] = cpu
        out["idle_wakeups"] = wakeups
        if isinstance(replicator, Fsreplica) and replicator.status() is not None:
            out.update(status_during_burst(replicator, sources, args))
        lags = single_save_lag(
            sources[0],
            replicator.dests[0],
            sources[1:],
            samples=args.samples,
            burst_files=args.burst,
            tag=f"{kind}-{time.monotonic_ns()}",
        )
        out["lag_p50_ms"] = pct(lags, 0.5) * 1000
        out["lag_p99_ms"] = pct(lags, 0.99) * 1000
    finally:
        replicator.stop()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument(
        "--status-interval", type=float, default=15.0, help="ms between /status probes"
    )
    parser.add_argument("--json", help="write the figures to this file too")
    parser.add_argument("--workdir", help="where the trees go (default: a temporary directory)")
    parser.add_argument("--no-lsyncd", action="store_true", help="fsreplica alone")
    args = parser.parse_args()
    compileall.compile_dir(Path(__file__).parents[1] / "src", quiet=1)
    kinds = ["fsreplica"] + ([] if args.no_lsyncd or not shutil.which("lsyncd") else ["lsyncd"])
    base = Path(tempfile.mkdtemp(prefix="daemon-bench-", dir=args.workdir))
    print(f"load average at start: {load()}", flush=True)
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in kinds}
    try:
        for r in range(args.repeat):
            for kind in kinds if r % 2 == 0 else kinds[::-1]:  # alternate who goes first
                work = base / f"{kind}-{r}"
                work.mkdir()
                sources = make_sources(work, args.policies, args.files)
                figures = run_one(kind, work, sources, args)
                runs[kind].append(figures)
                print(f"run {r + 1} {kind}: {json.dumps(_rounded(figures))}", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    medians = {
        kind: {key: statistics.median(run[key] for run in each) for key in each[0]}
        for kind, each in runs.items()
    }
    result: dict[str, object] = {
        "policies": args.policies,
        "files_per_policy": args.files,
        "repeat": args.repeat,
        "medians": {kind: _rounded(m) for kind, m in medians.items()},
        "load_average_end": load(),
    }
    if "lsyncd" in medians:
        ours, theirs = medians["fsreplica"], medians["lsyncd"]
        result["ratios_fsreplica_over_lsyncd"] = {
            key: round(ours[key] / theirs[key], 3) if theirs.get(key) else None
            for key in ours
            if key in theirs
        }
    print(json.dumps(result, indent=2))
    print(f"load average at end: {load()}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def _rounded(figures: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 3) for key, value in figures.items()}


if __name__ == "__main__":
    sys.exit(main())
