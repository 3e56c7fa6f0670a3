"""Restore benchmark: `fsreplica restore` beside `rclone copy` back, from a local DEST and from S3.

Usage: python benchmarks/restore_bench.py [--small 10000] [--big 10] [--big-mib 20]
       [--s3-small 2000] [--s3-big 4] [--repeat 3] [--transfers 8] [--workdir DIR]
       [--only local|s3] [--json FILE]

A tree is synced once with `fsreplica sync` (not timed) to a local DEST and to a bucket on moto's
S3 server (started in this process, as the tests do; an emulator: its figures compare the two
clients in the same run, they say nothing of a real store). Then, round-robin, each row restores
the whole replica into an empty directory: `fsreplica restore` (for S3 with a cold metadata cache,
as on a new machine, and with the cache a sync left) and `rclone copy` (mtimes kept, as
fsreplica does; rclone keeps no modes). Every figure is the median of --repeat runs; the load
average is printed, since the machine is shared. Needs rclone (Debian's) and moto.

The package's bytecode is compiled first, as `pip install` does.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import _rows_json  # noqa: E402

FSREPLICA = [sys.executable, "-m", "fsreplica"]


def make_tree(root: Path, small: int, big: int, big_mib: int) -> int:
    total = 0
    for i in range(small):
        path = root / f"d{i % 100:02d}" / f"f{i:05d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(512 + (i * 37) % 4096)
        path.write_bytes(data)
        total += len(data)
    blob = os.urandom(big_mib * 1024 * 1024)
    for i in range(big):
        (root / f"big{i:02d}.bin").write_bytes(blob[i:] + blob[:i])
        total += len(blob)
    return total


def run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return elapsed


def same_tree(a: Path, b: Path) -> bool:
    """Same relative paths, sizes and mtimes (to the second, as rclone keeps them on S3)."""

    def entries(root: Path) -> dict[str, tuple[int, int]]:
        out = {}
        for path in root.rglob("*"):
            if path.is_file():
                st = path.stat()
                out[str(path.relative_to(root))] = (st.st_size, int(st.st_mtime))
        return out

    return entries(a) == entries(b)


class Rows:
    """Timings per row, and the restored trees checked against the source."""

    def __init__(self, work: Path, source: Path) -> None:
        self.work, self.source = work, source
        self.times: dict[str, list[float]] = {}
        self.count = 0

    def time(self, name: str, restore: Callable[[Path], float]) -> None:
        self.count += 1
        out = self.work / f"out-{self.count}"
        elapsed = restore(out)
        if not same_tree(self.source, out):
            raise SystemExit(f"{name}: the restored tree differs from the source")
        shutil.rmtree(out)
        self.times.setdefault(name, []).append(elapsed)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])


def moto_env(work: Path) -> tuple[dict[str, str], dict[str, str], str]:
    """Start moto; return the environments of fsreplica and rclone, and a fresh bucket."""
    from servers import motoserver  # noqa: PLC0415

    endpoint = motoserver.endpoint()
    bucket = motoserver.new_bucket(endpoint)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    fsr = {
        **base,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": motoserver.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": motoserver.SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true",
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    rclone = {
        **base,
        "RCLONE_CONFIG_MOTO_TYPE": "s3",
        "RCLONE_CONFIG_MOTO_PROVIDER": "Other",
        "RCLONE_CONFIG_MOTO_ACCESS_KEY_ID": motoserver.ACCESS_KEY,
        "RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY": motoserver.SECRET_KEY,
        "RCLONE_CONFIG_MOTO_ENDPOINT": endpoint,
        "RCLONE_CONFIG_MOTO_REGION": "us-east-1",
        "RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE": "true",
    }
    return fsr, rclone, bucket


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=10)
    parser.add_argument("--big-mib", type=int, default=20)
    parser.add_argument("--s3-small", type=int, default=2000)
    parser.add_argument("--s3-big", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--transfers", type=int, default=8)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--only", choices=("local", "s3"), help="run one half only")
    parser.add_argument("--json", help="write the figures to this file too (read by plot.py)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    compileall.compile_dir(str(ROOT / "src" / "fsreplica"), quiet=1)
    work = Path(tempfile.mkdtemp(prefix="fsreplica-restore-bench-", dir=args.workdir))
    env = dict(os.environ)
    t = str(args.transfers)
    try:
        src = work / "src"
        local = Rows(work, src)
        if args.only != "s3":
            total = make_tree(src, args.small, args.big, args.big_mib)
            dest = work / "dest"
            run([*FSREPLICA, "sync", str(src), str(dest), "--state", str(work / "l.db"), "-q"], env)
            print(f"local: {args.small + args.big} files, {total / 2**20:.0f} MiB")
        for _ in range(args.repeat if args.only != "s3" else 0):
            local.time(
                "fsreplica restore (local DEST)",
                lambda out: run(
                    [*FSREPLICA, "restore", str(dest), str(out), "--transfers", t], env
                ),
            )
            local.time(
                "rclone copy (local DEST)",
                lambda out: run(["rclone", "copy", str(dest), str(out), "--transfers", t], env),
            )

        s3_src = work / "s3-src"
        s3 = Rows(work, s3_src)
        if args.only != "local":
            s3_total = make_tree(s3_src, args.s3_small, args.s3_big, args.big_mib)
            fsr_env, rclone_env, bucket = moto_env(work)
            url = f"s3://{bucket}/t"
            state = str(work / "s.db")
            run([*FSREPLICA, "sync", str(s3_src), url, "--state", state, "-q"], fsr_env)
            print(f"moto: {args.s3_small + args.s3_big} files, {s3_total / 2**20:.0f} MiB")
        for i in range(args.repeat if args.only != "local" else 0):
            cold = {**fsr_env, "XDG_CACHE_HOME": str(work / f"cold-{i}")}
            s3.time(
                "fsreplica restore (moto, cold cache)",
                lambda out, cold=cold: run(
                    [*FSREPLICA, "restore", url, str(out), "--transfers", t], cold
                ),
            )
            s3.time(
                "fsreplica restore (moto, cache of the sync)",
                lambda out: run([*FSREPLICA, "restore", url, str(out), "--transfers", t], fsr_env),
            )
            s3.time(
                "rclone copy (moto)",
                lambda out: run(
                    ["rclone", "copy", f"moto:{bucket}/t", str(out), "--transfers", t], rclone_env
                ),
            )

        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload average {load}, medians of {args.repeat}")
        print(f"{'row':48} {'wall s':>8}")
        for rows in (local, s3):
            for name in rows.times:
                print(f"{name:48} {rows.median(name):8.2f}")
        print()
        if local.times:
            f = local.median("fsreplica restore (local DEST)")
            r = local.median("rclone copy (local DEST)")
            print(f"local DEST: fsreplica restore {f / r:.2f}x rclone copy's time")
        if s3.times:
            r = s3.median("rclone copy (moto)")
            for name in (
                "fsreplica restore (moto, cold cache)",
                "fsreplica restore (moto, cache of the sync)",
            ):
                print(f"{name}: {s3.median(name) / r:.2f}x rclone copy's time")
        _rows_json.write(
            args.json,
            bench="restore",
            rows={
                name: {"wall": rows.median(name), "cpu": None, "runs": rows.times[name]}
                for rows in (local, s3)
                for name in rows.times
            },
            pairs=[
                ("local DEST", "fsreplica restore (local DEST)", "rclone copy (local DEST)"),
                ("moto, cold cache", "fsreplica restore (moto, cold cache)", "rclone copy (moto)"),
                (
                    "moto, cache of the sync",
                    "fsreplica restore (moto, cache of the sync)",
                    "rclone copy (moto)",
                ),
            ],
            loadavg_before=load_before,
            repeat=args.repeat,
            transfers=args.transfers,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
