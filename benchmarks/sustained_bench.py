"""Sustained load: `fsreplica replicate` under a steady writer of small files.

Usage: python benchmarks/sustained_bench.py [--dest local|rgw] [--rates 250,2500,25000]
       [--seconds 60] [--fs ext4|tmpfs] [--json FILE] [--profile DIR]

For each rate, a fresh `fsreplica replicate SRC DEST` is started on an empty tree (100
directories) and, once live, a writer process (`_sustained_writer.py`) creates 1-4 KiB files at
that rate for --seconds. DEST is a local directory (`--dest local`, rates 250, 2,500 and 25,000
by default), where the arrival of each file is seen by inotify on DEST (its rename into place),
never by polling the tree; or `--dest rgw` (250/s by default): `s3://BUCKET/live` on a
single-node Ceph RGW the script starts and stops, where the arrival of each object is the line
radosgw writes to its ops log socket once it has answered the PUT (`_sustained_rgw.py`), never
a request of ours. Reported:

- written/s: what the writer achieved; replicated/s: files that reached DEST while it wrote,
  per second of writing;
- lag: arrival at DEST minus close in SRC, p50 / p99 over the files written;
- converged: last arrival minus the writer's end;
- CPU: user + system seconds of the replicate process, per file (microseconds);
- RSS: at the start of writing, at its end and the peak (sampled every 0.25 s; the JSON keeps
  one sample a second).

To RGW also: requests per file by operation, and the CPU of the Ceph daemons per file.

Targets (issue 14): replicated/s >= written/s, lag p99 <= 1 s (2 s to RGW), converged <= 1 s,
RSS flat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _bench_meta
from _inotify_floor import IN_CLOSE_WRITE, IN_MOVED_TO, NaiveInotify

FSREPLICA = [sys.executable, "-m", "fsreplica"]
HERE = Path(__file__).resolve().parent
FS_DIRS = {"ext4": "/var/tmp", "tmpfs": "/dev/shm"}


LOST_SHOWN = 100
"""Missing files described in the kept lost.txt (each lists its directory: 15,000 entries at
25,000 files/s, so describing all of a big backlog took longer than the run)."""


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_switches(pid: int) -> int:
    """Context switches (voluntary and not) of every thread of process `pid`."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Dest(Protocol):
    """Where replicate writes, and how the benchmark sees each file arrive there."""

    name: str
    target: str
    args: list[str]
    env: dict[str, str]
    lag_target_s: float

    def watch(self, seen: Callable[[bytes, float], None]) -> Any:
        """A context manager calling `seen(relative name, monotonic time)` per arrival."""

    def start_usage(self) -> None:
        """Note the destination's own usage figures when the writer starts."""

    def missing(self, unseen: list[bytes]) -> list[bytes]:
        """Those of the `unseen` names that are not at DEST now (after the run)."""

    def describe(self, name: bytes) -> str:
        """A missing file, for lost.txt."""

    def figures(self, files: int) -> dict[str, Any]:
        """The destination's own figures for the row."""


class LocalDest:
    """A local directory, its arrivals seen by inotify on it (the rename into place)."""

    name = "local"
    lag_target_s = 1.0

    def __init__(self, work: Path) -> None:
        self.dst = work / "dst"
        self.dst.mkdir()
        self.target = str(self.dst)
        self.args: list[str] = []
        self.env: dict[str, str] = {}

    @contextmanager
    def watch(self, seen: Callable[[bytes, float], None]) -> Iterator[None]:
        prefix = len(os.fsencode(self.dst)) + 1

        def arrived(path: bytes, mask: int, when: float) -> None:
            # Not the destination's temporary files (dot names): closing one is not an arrival,
            # and counting them ended the wait below before the last files were in place.
            if mask & (IN_MOVED_TO | IN_CLOSE_WRITE) and path[path.rfind(b"/") + 1 :][:1] != b".":
                seen(path[prefix:], when)

        watcher = NaiveInotify(str(self.dst), arrived)
        stop = threading.Event()
        thread = threading.Thread(target=lambda: [None for _ in watcher.loop(stop.is_set)])
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            watcher.close()

    def start_usage(self) -> None:
        pass

    def missing(self, unseen: list[bytes]) -> list[bytes]:
        return [name for name in unseen if not (self.dst / os.fsdecode(name)).exists()]

    def describe(self, name: bytes) -> str:
        text = os.fsdecode(name)
        listing = sorted(os.listdir(self.dst / text.split("/")[0]))[-3:]
        return f"{text} dst-dir:{listing}"

    def figures(self, files: int) -> dict[str, Any]:
        return {"dest": self.name}


def start_replicate(
    src: Path, dest: Dest, state: Path, extra: list[str]
) -> subprocess.Popen[bytes]:
    log = state.with_suffix(".log")
    where = [str(src), dest.target, "--state", str(state)]
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*FSREPLICA, "replicate", *where, *dest.args, *extra],
            stderr=err,
            stdout=subprocess.DEVNULL,
            env={**os.environ, **dest.env},
        )
    deadline = time.monotonic() + 60
    while "initial sync" not in log.read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"replicate did not start: {log.read_text()}")
        time.sleep(0.01)
    return proc


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def run_rate(
    work: Path,
    dest: Dest,
    rate: float,
    seconds: float,
    *,
    extra: list[str],
    profile: Path | None = None,
) -> dict[str, Any]:
    src, state = work / "src", work / "state.db"
    for n in range(100):
        (src / f"d{n:02d}").mkdir(parents=True)
    proc = start_replicate(src, dest, state, extra)
    arrived: dict[bytes, float] = {}

    def seen(name: bytes, when: float) -> None:
        arrived.setdefault(name, when)

    rss: list[float] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.25):
            rss.append(proc_rss_mib(proc.pid))

    sampler = threading.Thread(target=sample)
    spy = None
    try:
        with dest.watch(seen):
            times_file = work / "closed.txt"
            with subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "_sustained_writer.py"),
                    str(src),
                    str(rate),
                    str(seconds),
                    str(times_file),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            ) as writer:
                assert writer.stdin is not None
                assert writer.stdout is not None
                rss_start = proc_rss_mib(proc.pid)
                cpu_start = proc_cpu(proc.pid)
                switches_start = proc_switches(proc.pid)
                dest.start_usage()
                if profile is not None:
                    label = f"{int(rate)}" if dest.name == "local" else f"{dest.name}-{int(rate)}"
                    spy = start_profiler(profile, proc.pid, label, seconds)
                sampler.start()
                writer.stdin.write("go\n")
                writer.stdin.close()
                begin, end = map(float, writer.stdout.readline().split())
            closed = [float(line) for line in times_file.read_text().split()]
            total = len(closed)
            rss_end = proc_rss_mib(proc.pid)
            names = [f"d{i % 100:02d}/f{i}".encode() for i in range(total)]
            deadline = time.monotonic() + max(60.0, seconds * 3)
            while time.monotonic() < deadline and len(arrived) < total:
                time.sleep(0.02)
            cpu = proc_cpu(proc.pid) - cpu_start
            switches = proc_switches(proc.pid) - switches_start
            sampling.set()
            sampler.join()
            if spy is not None:
                spy.wait(60)
        got = [arrived.get(name) for name in names]
        absent = [name for name, at in zip(names, got, strict=True) if at is None]
        lost = dest.missing(absent) if absent else []
        if lost:  # kept for a look: what replicate said, and which files (the first ones)
            keep = Path(tempfile.gettempdir()) / f"sustained-{dest.name}-{int(rate)}-lost"
            keep.mkdir(exist_ok=True)
            shutil.copy(state.with_suffix(".log"), keep / "replicate.log")
            (keep / "lost.txt").write_text(
                "\n".join(
                    f"{dest.describe(n)} src:{(src / os.fsdecode(n)).exists()}"
                    for n in lost[:LOST_SHOWN]
                )
            )
        lags = [a - c for a, c in zip(got, closed, strict=True) if a is not None]
        during = sum(1 for a in got if a is not None and a <= end)
        last = max((a for a in got if a is not None), default=float("nan"))
        return {
            "rate": rate,
            "files": total,
            "written_per_s": total / (end - begin),
            "replicated_per_s": during / (end - begin),
            "missing": len(lost),
            "unseen": len(absent),
            "lag_p50_s": pct(lags, 0.5),
            "lag_p99_s": pct(lags, 0.99),
            "lag_target_s": dest.lag_target_s,
            "converged_s": last - end,
            "cpu_s": cpu,
            "cpu_us_per_file": cpu / total * 1e6,
            "switches_per_file": switches / total,
            "rss_start_mib": rss_start,
            "rss_end_mib": rss_end,
            "rss_peak_mib": max(rss, default=rss_end),
            # Flat or growing: the RSS every second from the writer's start to convergence.
            "rss_each_s_mib": [round(v, 1) for v in rss[3::4]],
            "loadavg": os.getloadavg(),
            **dest.figures(total),
        }
    finally:
        if not sampling.is_set():
            sampling.set()
            if sampler.is_alive():
                sampler.join()
        if spy is not None and spy.poll() is None:
            spy.kill()
            spy.wait()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_profiler(profile: Path, pid: int, label: str, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy (or perf with PROFILER=perf) on `pid` for `seconds`, into `profile`."""
    profile.mkdir(parents=True, exist_ok=True)
    if os.environ.get("PROFILER") == "perf":
        tool = ["perf", "record", "-g", "-F", "499", "-o", str(profile / f"perf-{label}.data")]
        tool += ["-p", str(pid), "--", "sleep", str(int(seconds))]
    else:
        spy_args = os.environ.get("SPY_ARGS", "--native").split()
        tool = ["py-spy", "record", *spy_args, "-r", "200", "-p", str(pid), "-f", "raw"]
        tool += ["-o", str(profile / f"replicate-{label}.txt"), "-d", str(int(seconds))]
        # py-spy refuses --native with --nonblocking: native stacks need the process stopped.
        tool += [] if "--native" in spy_args else ["--nonblocking"]
    return subprocess.Popen(tool, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def meets(row: dict[str, Any]) -> bool:
    """Whether a row meets issue 14's targets for its destination."""
    return bool(
        row["replicated_per_s"] >= 0.98 * row["written_per_s"]
        and row["lag_p99_s"] <= row.get("lag_target_s", 1.0)
        and row["converged_s"] <= 1.0
        and row["missing"] == 0
    )


def show(row: dict[str, Any]) -> str:
    server = (
        f"  {row['requests_per_file']:.2f} req/file, Ceph CPU "
        f"{row['server_cpu_us_per_file']:5.0f} us/file"
        if "requests_per_file" in row
        else ""
    )
    return (
        f"{row['rate']:>7.0f}/s  written {row['written_per_s']:7.0f}/s  replicated "
        f"{row['replicated_per_s']:7.0f}/s  lag p50 {row['lag_p50_s'] * 1e3:8.1f} ms  p99 "
        f"{row['lag_p99_s'] * 1e3:8.1f} ms  converged {row['converged_s']:6.2f} s  CPU "
        f"{row['cpu_us_per_file']:5.0f} us/file  "
        f"{row['switches_per_file']:.1f} cs/file  RSS {row['rss_start_mib']:.0f} -> "
        f"{row['rss_end_mib']:.0f} (peak {row['rss_peak_mib']:.0f}) MiB  missing {row['missing']}"
        f" (unseen {row['unseen']}){server}"
        f"  load {row['loadavg'][0]:.2f}  {'meets' if meets(row) else 'MISSES'} target"
        f" (lag p99 <= {row.get('lag_target_s', 1.0):g} s)"
    )


DEFAULT_RATES = {"local": "250,2500,25000", "rgw": "250"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dest", choices=sorted(DEFAULT_RATES), default="local")
    parser.add_argument(
        "--rates",
        default=None,
        help="files/s, comma-separated (default: "
        + "; ".join(f"{k}: {v}" for k, v in DEFAULT_RATES.items())
        + ")",
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--fs", choices=sorted(FS_DIRS), default="ext4", help="where SRC lives")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--args", default="", help="extra options for replicate (one string)")
    parser.add_argument("--profile", default=None, help="py-spy raw profiles into this directory")
    args = parser.parse_args()
    rates = [float(r) for r in (args.rates or DEFAULT_RATES[args.dest]).split(",")]
    load_before = os.getloadavg()
    rgw = None
    base = Path(tempfile.mkdtemp(prefix="fsreplica-sustained-", dir=FS_DIRS[args.fs]))
    try:
        if args.dest == "rgw":
            import _sustained_rgw  # noqa: PLC0415  (beside this script; needs Ceph and boto3)

            reason = _sustained_rgw.unavailable()
            if reason:
                parser.exit(2, f"sustained_bench: --dest rgw: {reason}\n")
            try:
                rgw = _sustained_rgw.RGW(base / "ceph")
            except RuntimeError as exc:
                parser.exit(1, f"sustained_bench: --dest rgw: {exc}\n")
        where = f"to Ceph RGW {rgw.cluster.endpoint}" if rgw else "to a local DEST"
        print(
            f"sustained writer, {args.seconds:.0f} s per rate, SRC on {args.fs}, {where}; "
            f"load {os.getloadavg()}"
        )
        rows = []
        for rate in rates:
            runs = []
            for n in range(args.repeat):
                work = base / f"{int(rate)}-{n}"
                work.mkdir()
                os.environ["XDG_STATE_HOME"] = str(work / "xdg")
                os.environ["XDG_CACHE_HOME"] = str(work / "xdg-cache")
                dest: Dest = rgw.destination() if rgw else LocalDest(work)
                try:
                    runs.append(
                        run_rate(
                            work,
                            dest,
                            rate,
                            args.seconds,
                            extra=args.args.split(),
                            profile=Path(args.profile) if args.profile else None,
                        )
                    )
                finally:
                    shutil.rmtree(work, ignore_errors=True)
            row = {
                key: statistics.median(run[key] for run in runs)
                if isinstance(runs[0][key], float | int)
                else runs[-1][key]
                for key in runs[0]
            }
            rows.append(row)
            print(show(row), flush=True)
        if args.json:
            figures = {
                "sustained": rows,
                "dest": args.dest,
                "command": [os.path.abspath(sys.argv[0]), *sys.argv[1:]],
                "loadavg_before": load_before,
                "commit": _bench_meta.commit(),
                "machine": _bench_meta.machine(),
            }
            Path(args.json).write_text(json.dumps(figures, indent=1))
    finally:
        if rgw is not None:
            rgw.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
