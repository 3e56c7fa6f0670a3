"""Small files at scale: one-shot sync, no-change re-sync and `replicate` start-up.

Usage: python benchmarks/smallfiles_bench.py [--sizes 10000,100000] [--fs tmpfs|ext4]
       [--repeat 3] [--json FILE] [--transfers 1,2,4]

For each size, a tree of 1-4 KiB files, 1,000 per directory, is made once; then, round-robin
per round, each tool copies it to an empty DEST (one-shot) and again with nothing changed
(no-change re-sync), each in a fresh process. Wall time, CPU (user + system, from `wait4`) and
peak RSS of each run; the size of fsreplica's state file; and the time `fsreplica replicate` takes
on the synced tree until it says it is live ("initial sync" in its log), with its peak RSS.
Medians over --repeat rounds; ratios against `rsync -a --delete` of the same round.

Targets (issue 14): one-shot and no-change re-sync wall and CPU <= rsync; peak RSS of sync
<= 250 MB; `replicate` start-up <= rsync's no-change re-sync; at most linear growth with size.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

FS_DIRS = {"ext4": "/var/tmp", "tmpfs": "/dev/shm"}
PER_DIR = 1000


def make_tree(root: Path, files: int) -> None:
    payload = os.urandom(4096)
    for i in range(files):
        d = root / f"d{i // PER_DIR:04d}"
        if i % PER_DIR == 0:
            d.mkdir(parents=True)
        fd = os.open(d / f"f{i:07d}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, payload[: 1024 + (i * 37) % 3072])
        os.close(fd)


def run(cmd: list[str]) -> dict[str, float]:
    """Run `cmd` to its end; wall s, CPU s (user + system) and peak RSS MB from wait4."""
    start = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode not in (0,):
        raise RuntimeError(f"{cmd[:3]} exited {proc.returncode}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def startup(src: Path, dst: Path, state: Path) -> dict[str, float]:
    """`fsreplica replicate` on an already synced tree: seconds until live, and its peak RSS."""
    log = state.with_suffix(".startup.log")
    start = time.perf_counter()
    with (
        open(log, "wb") as err,
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fsreplica",
                "replicate",
                str(src),
                str(dst),
                "--state",
                str(state),
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        ) as proc,
    ):
        try:
            while "initial sync" not in log.read_text():
                if proc.poll() is not None or time.perf_counter() - start > 600:
                    raise RuntimeError(f"replicate did not start: {log.read_text()}")
                time.sleep(0.005)
            took = time.perf_counter() - start
            peak = 0.0
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    return {"live_s": took, "peak_rss_mb": peak}


def tools(
    state: Path, transfers: list[int] | None = None
) -> dict[str, Callable[[Path, Path], list[str]]]:
    found: dict[str, Callable[[Path, Path], list[str]]] = {
        "fsreplica": lambda s, d: [
            sys.executable,
            "-m",
            "fsreplica",
            "sync",
            "-q",
            str(s),
            str(d),
            "--state",
            str(state),
        ],
        "rsync": lambda s, d: ["rsync", "-a", "--delete", f"{s}/", f"{d}/"],
        "rclone": lambda s, d: ["rclone", "sync", "--links", str(s), str(d)],
    }
    for n in transfers or []:
        # fsreplica with N workers instead of its default (how the default was chosen).
        found[f"fsreplica --transfers {n}"] = lambda s, d, n=n: [
            *found["fsreplica"](s, d),
            "--transfers",
            str(n),
        ]
    return {
        name: cmd
        for name, cmd in found.items()
        if name.startswith("fsreplica") or shutil.which(name)
    }


def bench_size(
    work: Path, files: int, repeat: int, transfers: list[int] | None = None
) -> dict[str, Any]:
    src = work / "src"
    make_tree(src, files)
    state = work / "state.db"
    runs: dict[str, dict[str, list[float]]] = {}
    for _ in range(repeat):
        for name, cmd in tools(state, transfers).items():
            dst = work / f"dst-{name.replace(' ', '')}"
            shutil.rmtree(dst, ignore_errors=True)
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(f"{state}{suffix}").unlink(missing_ok=True)
            subprocess.run(["sync"], check=False)
            one = run(cmd(src, dst))
            again = run(cmd(src, dst))
            got = runs.setdefault(name, {})
            for key, value in one.items():
                got.setdefault(f"sync_{key}", []).append(value)
            for key, value in again.items():
                got.setdefault(f"resync_{key}", []).append(value)
            if name == "fsreplica":
                got.setdefault("state_mb", []).append(
                    sum(
                        Path(f"{state}{s}").stat().st_size
                        for s in ("", "-wal")
                        if Path(f"{state}{s}").exists()
                    )
                    / 2**20
                )
                for key, value in startup(src, dst, state).items():
                    got.setdefault(f"startup_{key}", []).append(value)
            shutil.rmtree(dst, ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    return {
        name: {key: statistics.median(values) for key, values in got.items()}
        for name, got in runs.items()
    }


def show(files: int, result: dict[str, Any]) -> None:
    base = result.get("rsync")
    for name, row in result.items():
        ratio = ""
        if base and name != "rsync":
            ratio = (
                f"  vs rsync: sync {row['sync_wall_s'] / base['sync_wall_s']:.2f}x wall "
                f"{row['sync_cpu_s'] / base['sync_cpu_s']:.2f}x CPU, re-sync "
                f"{row['resync_wall_s'] / base['resync_wall_s']:.2f}x wall"
            )
        print(
            f"{files:>9,} {name:10s} sync {row['sync_wall_s']:7.2f} s {row['sync_cpu_s']:7.2f} "
            f"CPU s ({row['sync_cpu_s'] / files * 1e6:4.0f} us/file) RSS "
            f"{row['sync_peak_rss_mb']:5.0f} MB | re-sync {row['resync_wall_s']:6.2f} s "
            f"{row['resync_cpu_s']:6.2f} CPU s RSS {row['resync_peak_rss_mb']:5.0f} MB{ratio}"
        )
        if name == "fsreplica":
            live = row["startup_live_s"]
            vs = f" ({live / base['resync_wall_s']:.2f}x rsync's re-sync)" if base else ""
            print(
                f"{'':>9} {'':10s} state {row['state_mb']:.1f} MB; replicate live after "
                f"{live:.2f} s{vs}, peak RSS {row['startup_peak_rss_mb']:.0f} MB"
            )


def compile_package() -> None:
    """Byte-compile fsreplica first, as an install does: each run then loads, never compiles.

    With PYTHONDONTWRITEBYTECODE set and no __pycache__, every fresh process would compile
    every module it imports (tens of ms), a cost no installed copy pays.
    """
    import fsreplica  # noqa: PLC0415

    compileall.compile_dir(os.path.dirname(fsreplica.__file__), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--fs", choices=sorted(FS_DIRS), default="tmpfs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument(
        "--transfers",
        default="",
        metavar="N,N",
        help="also run fsreplica with each of these --transfers (rows 'fsreplica --transfers N')",
    )
    args = parser.parse_args()
    transfers = [int(n) for n in args.transfers.split(",") if n]
    compile_package()
    print(f"small files, 1-4 KiB, {PER_DIR} per directory, {args.fs}; load {os.getloadavg()}")
    out: dict[str, Any] = {"fs": args.fs, "loadavg_start": os.getloadavg(), "sizes": {}}
    for files in (int(n) for n in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix="fsreplica-small-", dir=FS_DIRS[args.fs]))
        os.environ["XDG_STATE_HOME"] = str(work / "xdg")
        try:
            result = bench_size(work, files, args.repeat, transfers)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        out["sizes"][str(files)] = {"tools": result, "loadavg": os.getloadavg()}
        show(files, result)
        print(f"{'':>9} load {os.getloadavg()[0]:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
