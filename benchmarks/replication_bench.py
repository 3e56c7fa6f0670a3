"""Replication benchmark: end-to-end latency, bulk sync vs rsync and rclone, convergence.

Usage: python benchmarks/replication_bench.py [--files 10000] [--big 20] [--big-mib 20]
       [--repeat 3] [--samples 200] [--poll 0.0001] [--latency-only] [--workdir DIR]
       [--json FILE]

Every figure is a median over --repeat runs (latency: p50/p99 over --samples writes).

The package's bytecode is compiled first, as `pip install` does: in a checkout run with
PYTHONDONTWRITEBYTECODE=1 every `fsreplica` process would otherwise compile its modules from
source, which is not what users run and costs more than a no-change re-sync itself.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FSREPLICA = [sys.executable, "-m", "fsreplica"]
RESYNC_RUNS = 3
"""No-change re-syncs timed after each one-shot (they are short, so noisier)."""


def make_tree(root: Path, files: int, big: int, big_mib: int) -> None:
    for i in range(files):
        d = root / f"d{i % 100:02d}" / f"e{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.dat").write_bytes(os.urandom(512 + (i * 37) % 4096))
    blob = os.urandom(big_mib * 1024 * 1024)
    (root / "big").mkdir(exist_ok=True)
    for i in range(big):
        (root / "big" / f"b{i}.bin").write_bytes(blob[i:] + blob[:i])


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def reset(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def bulk(work: Path, src: Path, repeat: int) -> dict[str, tuple[float, float]]:
    tools = {
        "fsreplica sync": lambda dst: [
            *FSREPLICA,
            "sync",
            "-q",
            str(src),
            str(dst),
            "--state",
            str(dst) + ".db",
        ],
        "rsync -a --delete": lambda dst: ["rsync", "-a", "--delete", f"{src}/", f"{dst}/"],
        # The same durability as fsreplica (every file flushed before the run ends); rsync
        # >= 3.2.4. The ratios stay against plain rsync, as the targets are stated.
        "rsync ... --fsync": lambda dst: [
            "rsync",
            "-a",
            "--delete",
            "--fsync",
            f"{src}/",
            f"{dst}/",
        ],
        "rclone sync": lambda dst: ["rclone", "sync", "--links", str(src), str(dst)],
    }
    tools = {name: cmd for name, cmd in tools.items() if shutil.which(cmd(work)[0]) is not None}
    if "rsync ... --fsync" in tools and not _rsync_has_fsync():
        del tools["rsync ... --fsync"]
    first: dict[str, list[float]] = {name: [] for name in tools}
    again: dict[str, list[float]] = {name: [] for name in tools}
    # Round-robin: on a shared machine the load drifts; each round times every tool under about
    # the same conditions, so the ratios hold better than with all runs of a tool in a row.
    for n in range(repeat):
        for index, (name, cmd) in enumerate(tools.items()):
            dst = work / f"dst-{index}-{n}"
            reset(dst)
            Path(str(dst) + ".db").unlink(missing_ok=True)
            subprocess.run(["sync"], check=True)
            first[name].append(timed(cmd(dst)))
            again[name].extend(timed(cmd(dst)) for _ in range(RESYNC_RUNS))
            reset(dst)
            for suffix in (".db", ".db-wal", ".db-shm", ".db.lock"):
                Path(str(dst) + suffix).unlink(missing_ok=True)
    return {
        name: (statistics.median(first[name]), statistics.median(again[name])) for name in tools
    }


def _rsync_has_fsync() -> bool:
    out = subprocess.run(["rsync", "--help"], capture_output=True, text=True, check=False)
    return "--fsync" in out.stdout


def start_daemon(src: Path, dst: Path, state: Path) -> subprocess.Popen[bytes]:
    log = open(str(state) + ".log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [*FSREPLICA, "replicate", str(src), str(dst), "--state", str(state)],
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while "initial sync" not in Path(str(state) + ".log").read_text():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError("replicate did not start")
        time.sleep(0.01)
    return proc


def latency(work: Path, samples: int, poll: float = 0.0001) -> list[float]:
    """Write --samples files one at a time; time from close to the same bytes at DEST.

    DEST is polled every `poll` seconds: a busy loop would take one of the machine's cores
    away from the replicator it measures (on 2 cores it multiplied the p50 several times).
    """
    src, dst = work / "lat-src", work / "lat-dst"
    src.mkdir()
    proc = start_daemon(src, dst, work / "lat.db")
    out = []
    try:
        for i in range(samples):
            data = os.urandom(1024) + str(i).encode()
            target = dst / f"f{i % 50}"
            with open(src / f"f{i % 50}", "wb") as f:
                f.write(data)
            start = time.perf_counter()  # the file is closed here
            while True:
                try:
                    if target.read_bytes() == data:
                        break
                except FileNotFoundError:
                    pass
                if time.perf_counter() - start > 5:
                    raise RuntimeError("latency sample timed out")
                if poll:
                    time.sleep(poll)
            out.append(time.perf_counter() - start)
            time.sleep(0.02)  # an isolated write, as the target says
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return out


def convergence(work: Path, files: int) -> float:
    src, dst = work / "conv-src", work / "conv-dst"
    src.mkdir(parents=True)
    proc = start_daemon(src, dst, work / "conv.db")
    try:
        make_tree(src, files, 0, 0)
        end = time.perf_counter()
        expected = sum(len(fs) for _, _, fs in os.walk(src))
        while sum(len(fs) for _, _, fs in os.walk(dst)) < expected:
            if time.perf_counter() - end > 120:
                raise RuntimeError("no convergence")
            time.sleep(0.005)
        took = time.perf_counter() - end
        check = subprocess.run([*FSREPLICA, "verify", "-q", str(src), str(dst)], check=False)
        if check.returncode != 0:
            raise RuntimeError("verify failed after convergence")
        return took
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def compile_package() -> None:
    import fsreplica  # noqa: PLC0415

    compileall.compile_dir(os.path.dirname(fsreplica.__file__), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=20)
    parser.add_argument("--big-mib", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument(
        "--poll", type=float, default=0.0001, help="seconds between two looks at DEST (0: spin)"
    )
    parser.add_argument(
        "--latency-only", action="store_true", help="only the close -> bytes at DEST row"
    )
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--json", default=None, help="write the figures to this file")
    args = parser.parse_args()
    out: dict[str, object] = {"loadavg_start": os.getloadavg()}
    compile_package()
    work = Path(tempfile.mkdtemp(prefix="fsreplica-bench-", dir=args.workdir))
    os.environ["XDG_STATE_HOME"] = str(work / "xdg")
    try:
        lat = sorted(latency(work, args.samples, args.poll))
        p50 = lat[len(lat) // 2] * 1e3
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3
        print(f"latency (close in SRC -> same bytes in DEST): p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        out["latency_ms"] = {"p50": p50, "p99": p99, "loadavg": os.getloadavg()}
        if args.latency_only:
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1))
            return

        src = work / "src"
        make_tree(src, args.files, args.big, args.big_mib)
        size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
        print(
            f"bulk tree: {args.files + args.big} files, {size / 2**20:.0f} MiB; "
            f"medians of {args.repeat}"
        )
        results = bulk(work, src, args.repeat)
        out["bulk"] = {
            "files": args.files + args.big,
            "mib": size / 2**20,
            "tools": {name: {"sync_s": a, "resync_s": b} for name, (a, b) in results.items()},
            "loadavg": os.getloadavg(),
        }
        base = results.get("rsync -a --delete")
        for name, (first, again) in results.items():
            ratio = (
                f", ratio vs rsync {first / base[0]:.2f} / {again / base[1]:.2f}" if base else ""
            )
            print(f"  {name:18s} one-shot {first:6.2f} s, no-change re-sync {again:6.3f} s{ratio}")
        n = min(args.files, 2000)
        runs = []
        for r in range(args.repeat):
            runs.append(convergence(work / f"conv-{r}", n))
        print(
            f"real-time convergence after a bulk write of {n} files: median "
            f"{statistics.median(runs):.2f} s (runs: {', '.join(f'{t:.2f}' for t in runs)})"
        )
        out["convergence_s"] = {"files": n, "median": statistics.median(runs), "runs": runs}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
