"""What encryption costs: fsreplica sync with and without --encrypt, beside rclone and rclone crypt.

    python benchmarks/crypt_bench.py [--files 10000] [--mib 400] [--repeat 3]
                                     [--targets local,rgw] [--json out.json]

One tree (10,000 files, ~400 MiB of random bytes, sizes spread from a few KiB to 1 MiB) is synced
into a fresh DEST per run, to each target: a local directory, and a single-node Ceph RGW this
script starts (or moto's server, in this process; or S3_BENCH_ENDPOINT with AWS keys). Rows:

- fsreplica sync (plain), fsreplica sync --encrypt (names in clear) and with sealed names;
- rclone sync (plain) and rclone sync to a crypt remote over the same target, with names in
  clear (filename_encryption = off) and encrypted (standard), configured by environment
  variables only.

fsreplica's key is a key file made by `fsreplica key init --key-file` (a random key, unlocked
through HKDF); `--passphrase-file` uses a passphrase instead (scrypt at its default cost, about
half a second per run). Wall time and the children's CPU time (user + sys,
getrusage) per run; medians of --repeat runs; the ratios encrypted/plain (targets: wall <= 1.15,
CPU <= 1.25) and fsreplica/rclone per mode; load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
FSREPLICA = [sys.executable, "-m", "fsreplica"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    cpu0, t0 = children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return wall, cpu


def run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return done.stdout


def make_tree(root: Path, files: int, mib: int) -> int:
    """`files` files of random bytes, ~`mib` MiB in all, 100 per directory."""
    rng = random.Random(12)
    mean = mib * 2**20 / files
    total = 0
    for i in range(files):
        size = min(int(rng.expovariate(1 / mean)), 2**20)
        path = root / f"d{i // 100:03d}" / f"file-{i:05d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        total += size
    return total


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


class Target:
    """Where the DESTs go: fresh, empty ones per run, for fsreplica and for rclone."""

    name = ""

    def __init__(self, work: Path) -> None:
        self.work = work
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        self.env = {**base, "XDG_CACHE_HOME": str(work / "cache")}

    def fresh(self) -> tuple[str, str]:
        """(fsreplica's DEST, rclone's remote path) of a new empty destination."""
        raise NotImplementedError

    def drop(self) -> None:
        """Remove what `fresh` made."""


class LocalTarget(Target):
    name = "local"

    def fresh(self) -> tuple[str, str]:
        self.drop()
        dest = self.work / "dest"
        dest.mkdir()
        return str(dest), str(dest)

    def drop(self) -> None:
        shutil.rmtree(self.work / "dest", ignore_errors=True)


class S3Target(Target):
    def __init__(self, work: Path, name: str, endpoint: str, access: str, secret: str) -> None:
        super().__init__(work)
        import boto3  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        self.name = name
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        self.env.update(
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID=access,
            AWS_SECRET_ACCESS_KEY=secret,
            AWS_EC2_METADATA_DISABLED="true",
            RCLONE_CONFIG_S3_TYPE="s3",
            RCLONE_CONFIG_S3_PROVIDER="Ceph",
            RCLONE_CONFIG_S3_ACCESS_KEY_ID=access,
            RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=secret,
            RCLONE_CONFIG_S3_ENDPOINT=endpoint,
            RCLONE_CONFIG_S3_REGION="us-east-1",
            RCLONE_CONFIG_S3_FORCE_PATH_STYLE="true",
        )
        self.bucket = ""

    def fresh(self) -> tuple[str, str]:
        self.drop()
        self.bucket = f"bench-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)
        return f"s3://{self.bucket}/t", f"s3:{self.bucket}/t"

    def drop(self) -> None:
        if not self.bucket:
            return
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        self.s3.delete_bucket(Bucket=self.bucket)
        self.bucket = ""


def rows_for(target: Target, src: Path, key: Path, work: Path) -> dict[str, Callable[[], Any]]:
    """Each row: a function that makes a fresh DEST, then times one sync into it."""
    password = run(["rclone", "obscure", "fsreplica-bench"], target.env).strip()

    def fsreplica(*flags: str, names: bool = False) -> Callable[[], tuple[float, float]]:
        def one() -> tuple[float, float]:
            dest, _ = target.fresh()
            state = work / f"state-{uuid.uuid4().hex}.db"
            if "--encrypt" in flags:
                init = ["key", "init", dest, "--key-file", str(key)]
                run([*FSREPLICA, *init, *(["--encrypt-names"] if names else [])], target.env)
            cmd = [*FSREPLICA, "sync", str(src), dest, "--state", str(state), "-q", *flags]
            return timed(cmd, target.env)

        return one

    def rclone(crypt: str | None) -> Callable[[], tuple[float, float]]:
        def one() -> tuple[float, float]:
            _, remote = target.fresh()
            env = dict(target.env)
            if crypt is not None:
                env.update(
                    RCLONE_CONFIG_SEALED_TYPE="crypt",
                    RCLONE_CONFIG_SEALED_REMOTE=remote,
                    RCLONE_CONFIG_SEALED_PASSWORD=password,
                    RCLONE_CONFIG_SEALED_FILENAME_ENCRYPTION=crypt,
                    RCLONE_CONFIG_SEALED_DIRECTORY_NAME_ENCRYPTION=str(crypt != "off").lower(),
                )
                remote = "sealed:"
            return timed(["rclone", "sync", str(src), remote], env)

        return one

    encrypt = ("--encrypt", "--key-file", str(key))
    return {
        "fsreplica sync": fsreplica(),
        "fsreplica sync --encrypt": fsreplica(*encrypt),
        "fsreplica sync --encrypt (sealed names)": fsreplica(*encrypt, names=True),
        "rclone sync": rclone(None),
        "rclone sync, crypt remote (names off)": rclone("off"),
        "rclone sync, crypt remote (names standard)": rclone("standard"),
    }


def bench(target: Target, src: Path, key: Path, work: Path, repeat: int) -> dict[str, Any]:
    rows = rows_for(target, src, key, work)
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    load_before = loadavg()
    for _ in range(repeat):
        for name, row in rows.items():  # interleaved, so drifting load hits every row alike
            runs[name].append(row())
    target.drop()
    medians = {
        name: {
            "wall": statistics.median(w for w, _ in values),
            "cpu": statistics.median(c for _, c in values),
            "runs": values,
        }
        for name, values in runs.items()
    }

    def ratio(a: str, b: str, what: str) -> float:
        return float(medians[a][what] / medians[b][what])

    ratios = {
        "fsreplica encrypt/plain wall": ratio("fsreplica sync --encrypt", "fsreplica sync", "wall"),
        "fsreplica encrypt/plain cpu": ratio("fsreplica sync --encrypt", "fsreplica sync", "cpu"),
        "fsreplica sealed names/plain wall": ratio(
            "fsreplica sync --encrypt (sealed names)", "fsreplica sync", "wall"
        ),
        "rclone crypt/plain wall": ratio(
            "rclone sync, crypt remote (names off)", "rclone sync", "wall"
        ),
        "rclone crypt/plain cpu": ratio(
            "rclone sync, crypt remote (names off)", "rclone sync", "cpu"
        ),
        "fsreplica --encrypt / rclone crypt wall": ratio(
            "fsreplica sync --encrypt", "rclone sync, crypt remote (names off)", "wall"
        ),
        "fsreplica --encrypt / rclone crypt cpu": ratio(
            "fsreplica sync --encrypt", "rclone sync, crypt remote (names off)", "cpu"
        ),
    }
    return {
        "target": target.name,
        "rows": medians,
        "ratios": ratios,
        "load": [load_before, loadavg()],
    }


def report(result: dict[str, Any]) -> None:
    print(f"\n== {result['target']} (load average {result['load'][0]} -> {result['load'][1]})")
    print(f"{'row':48} {'wall s':>8} {'cpu s':>8}")
    for name, row in result["rows"].items():
        print(f"{name:48} {row['wall']:8.2f} {row['cpu']:8.2f}")
    for name, value in result["ratios"].items():
        print(f"{name:48} {value:8.2f}")


def make_target(name: str, work: Path, stack: list[Callable[[], None]]) -> Target:
    if name == "local":
        return LocalTarget(work)
    if os.environ.get("S3_BENCH_ENDPOINT"):
        env = os.environ
        return S3Target(
            work,
            name,
            env["S3_BENCH_ENDPOINT"],
            env["AWS_ACCESS_KEY_ID"],
            env["AWS_SECRET_ACCESS_KEY"],
        )
    if name == "moto":
        from servers import motoserver  # noqa: PLC0415

        endpoint = motoserver.endpoint()
        return S3Target(work, name, endpoint, motoserver.ACCESS_KEY, motoserver.SECRET_KEY)
    if name == "rgw":
        from servers import ceph  # noqa: PLC0415

        cluster = ceph.CephRGW.start(work / "ceph")
        stack.append(cluster.stop)
        return S3Target(work, name, cluster.endpoint, cluster.access_key, cluster.secret_key)
    raise SystemExit(f"unknown target {name!r} (local, moto, rgw)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mib", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--targets", default="local,rgw")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument(
        "--passphrase-file", action="store_true", help="a key file holding a passphrase (scrypt)"
    )
    args = parser.parse_args()
    if shutil.which("rclone") is None:
        raise SystemExit("rclone is needed (apt-get install rclone)")
    work = Path(tempfile.mkdtemp(prefix="fsreplica-crypt-bench-"))
    stack: list[Callable[[], None]] = []
    try:
        src = work / "src"
        total = make_tree(src, args.files, args.mib)
        key = work / "bench.key"  # made by the first `key init`
        if args.passphrase_file:
            key.write_text("a passphrase for the benchmark\n")
            key.chmod(0o600)
        print(f"tree: {args.files} files, {total / 2**20:.0f} MiB; {os.cpu_count()} CPUs")
        print(run(["rclone", "version"], dict(os.environ)).splitlines()[0])
        results = []
        for name in args.targets.split(","):
            target = make_target(name, work, stack)
            result = bench(target, src, key, work, args.repeat)
            report(result)
            results.append(result)
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        for stop in reversed(stack):
            stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
