"""fsreplica vs rclone to a real S3 endpoint (a single-node Ceph RGW this script starts).

    python benchmarks/s3_bench.py [--small 10000] [--big 20] [--repeat 1] [--json FILE]

Rows: a full `sync` of 10,000 small files + 20 x 20 MiB at --transfers 16 and 4; a re-sync with
nothing changed (rclone by default and with --fast-list --update --use-server-modtime); and the
latency of an isolated 4 KiB write through `fsreplica replicate` (write -> object visible).
Client CPU is the children's user+sys time from getrusage. Needs Ceph (scripts/install-test-deps.sh)
and rclone. Set S3_BENCH_ENDPOINT (+ AWS keys) to use a running endpoint instead.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import _rows_json  # noqa: E402  (beside this script)

from servers import ceph  # noqa: E402


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


def make_tree(root: Path, small: int, big: int) -> int:
    total = 0
    for i in range(small):
        path = root / f"d{i % 100:02d}" / f"f{i:05d}.dat"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(2048 + (i * 7919) % 4096)
        path.write_bytes(data)
        total += len(data)
    for i in range(big):
        data = os.urandom(20 * 1024 * 1024)
        (root / f"big{i:02d}.bin").write_bytes(data)
        total += len(data)
    return total


class Bench:
    def __init__(self, endpoint: str, access: str, secret: str, work: Path) -> None:
        self.endpoint, self.work = endpoint, work
        self.s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        self.fsr_env = {
            **base,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": access,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_EC2_METADATA_DISABLED": "true",
            "XDG_CACHE_HOME": str(work / "cache"),
        }
        self.rclone_env = {
            **base,
            "RCLONE_CONFIG_RGW_TYPE": "s3",
            "RCLONE_CONFIG_RGW_PROVIDER": "Ceph",
            "RCLONE_CONFIG_RGW_ACCESS_KEY_ID": access,
            "RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY": secret,
            "RCLONE_CONFIG_RGW_ENDPOINT": endpoint,
            "RCLONE_CONFIG_RGW_REGION": "us-east-1",
            "RCLONE_CONFIG_RGW_FORCE_PATH_STYLE": "true",
        }

    def bucket(self) -> str:
        name = f"bench-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=name)
        return name

    def drop(self, bucket: str) -> None:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        self.s3.delete_bucket(Bucket=bucket)

    def fsr_sync(self, src: Path, bucket: str, transfers: int, state: Path) -> tuple[float, float]:
        cmd = [
            sys.executable,
            "-m",
            "fsreplica",
            "sync",
            str(src),
            f"s3://{bucket}/t",
            "--state",
            str(state),
            "--transfers",
            str(transfers),
            "-q",
        ]
        return timed(cmd, self.fsr_env)

    def rclone_sync(
        self, src: Path, bucket: str, transfers: int, *flags: str
    ) -> tuple[float, float]:
        cmd = ["rclone", "sync", str(src), f"rgw:{bucket}/t", "--transfers", str(transfers), *flags]
        return timed(cmd, self.rclone_env)

    def latency(self, samples: int) -> list[float]:
        bucket = self.bucket()
        src = self.work / "latency-src"
        src.mkdir()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fsreplica",
                "replicate",
                str(src),
                f"s3://{bucket}/lat",
                "--state",
                str(self.work / "lat.db"),
                "--debounce",
                "0",
                "-q",
            ],
            env=self.fsr_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import obstore  # noqa: PLC0415
        from obstore.store import S3Store  # noqa: PLC0415

        store = S3Store(
            bucket,
            prefix="lat",
            endpoint=self.endpoint,
            region="us-east-1",
            access_key_id=self.fsr_env["AWS_ACCESS_KEY_ID"],
            secret_access_key=self.fsr_env["AWS_SECRET_ACCESS_KEY"],
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )
        try:
            results = []
            # Sample -1 is a warm-up: replicate may still be starting (imports, preflight, scan).
            for i in range(-1, samples):
                data = os.urandom(4096)
                t0 = time.perf_counter()
                (src / f"w{i}.dat").write_bytes(data)
                while True:
                    try:
                        obstore.head(store, f"w{i}.dat")
                        break
                    except FileNotFoundError:
                        if time.perf_counter() - t0 > 30:
                            raise SystemExit("latency: object never appeared") from None
                if i >= 0:
                    results.append(time.perf_counter() - t0)
                time.sleep(0.2)
            return results
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            self.drop(bucket)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--json", help="write the figures to this file too (read by plot.py)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="fsreplica-s3-bench-"))
    cluster = None
    try:
        if os.environ.get("S3_BENCH_ENDPOINT"):
            endpoint = os.environ["S3_BENCH_ENDPOINT"]
            access, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
        else:
            cluster = ceph.CephRGW.start(work / "ceph")
            endpoint, access, secret = cluster.endpoint, cluster.access_key, cluster.secret_key
        bench = Bench(endpoint, access, secret, work)
        src = work / "src"
        total = make_tree(src, args.small, args.big)
        print(f"tree: {args.small + args.big} files, {total / 2**20:.0f} MiB; endpoint {endpoint}")
        rows: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for transfers in (16, 4):
                bucket = bench.bucket()
                state = work / f"state-{uuid.uuid4().hex}.db"
                rows.setdefault(f"fsreplica sync --transfers {transfers}", []).append(
                    bench.fsr_sync(src, bucket, transfers, state)
                )
                rows.setdefault(f"fsreplica re-sync, no change (t={transfers})", []).append(
                    bench.fsr_sync(src, bucket, transfers, state)
                )
                bench.drop(bucket)
                bucket = bench.bucket()
                rows.setdefault(f"rclone sync --transfers {transfers}", []).append(
                    bench.rclone_sync(src, bucket, transfers)
                )
                rows.setdefault(f"rclone re-sync, no change (t={transfers})", []).append(
                    bench.rclone_sync(src, bucket, transfers)
                )
                rows.setdefault(
                    f"rclone re-sync --fast-list --update --use-server-modtime (t={transfers})", []
                ).append(
                    bench.rclone_sync(
                        src, bucket, transfers, "--fast-list", "--update", "--use-server-modtime"
                    )
                )
                bench.drop(bucket)
        print(f"\n{'row':72} {'wall s':>8} {'cpu s':>8}")
        med = {}
        for name, values in rows.items():
            wall = statistics.median(v[0] for v in values)
            cpu = statistics.median(v[1] for v in values)
            med[name] = (wall, cpu)
            print(f"{name:72} {wall:8.2f} {cpu:8.2f}")
        print()
        for t in (16, 4):
            f, r = med[f"fsreplica sync --transfers {t}"], med[f"rclone sync --transfers {t}"]
            print(
                f"sync t={t}: wall {f[0] / r[0]:.2f}x rclone (target <= 0.9), "
                f"cpu {f[1] / r[1]:.2f}x rclone (target <= 0.5)"
            )
        f = med["fsreplica re-sync, no change (t=16)"]
        r = med["rclone re-sync --fast-list --update --use-server-modtime (t=16)"]
        print(f"no-change re-sync: {f[0]:.2f} s vs rclone's best {r[0]:.2f} s ({f[0] / r[0]:.2f}x)")
        lat = sorted(bench.latency(args.latency_samples))
        print(
            f"replicate 4 KiB write -> visible: p50 {statistics.median(lat) * 1e3:.1f} ms, "
            f"p90 {lat[int(len(lat) * 0.9)] * 1e3:.1f} ms (target p50 <= 15 ms)"
        )
        _rows_json.write(
            args.json,
            bench="s3",
            rows=_rows_json.medians(rows),
            pairs=[
                ("sync t=16", "fsreplica sync --transfers 16", "rclone sync --transfers 16"),
                ("sync t=4", "fsreplica sync --transfers 4", "rclone sync --transfers 4"),
                (
                    "no-change re-sync, rclone's best",
                    "fsreplica re-sync, no change (t=16)",
                    "rclone re-sync --fast-list --update --use-server-modtime (t=16)",
                ),
            ],
            loadavg_before=load_before,
            files=args.small + args.big,
            mib=total / 2**20,
            repeat=args.repeat,
            latency_ms={
                "p50": statistics.median(lat) * 1e3,
                "p90": lat[int(len(lat) * 0.9)] * 1e3,
                "samples": [v * 1e3 for v in lat],
            },
        )
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
