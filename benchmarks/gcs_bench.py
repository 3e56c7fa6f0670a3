"""fsreplica vs rclone to Google Cloud Storage's emulator (fake-gcs-server, which this starts).

    python benchmarks/gcs_bench.py [--small 5000] [--big 4] [--repeat 3] [--json FILE]

Rows: a full `sync` of small files (2-6 KiB) + 20 MiB files at --transfers 16 and 4, and a
re-sync with nothing changed (rclone by default and with --fast-list --update
--use-server-modtime), both tools against the same emulator (rclone's `google cloud storage`
backend, anonymous, with its endpoint set). Medians of --repeat runs; client CPU is the children's
user+sys time from getrusage. The emulator keeps objects in memory and copies what it holds at
each chunk of a resumable upload, so big files cost it more than Google would: the figures
compare the two clients on one server, they are not GCS's speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _rows_json  # noqa: E402
from s3_bench import make_tree, timed  # noqa: E402

from servers import fakegcs  # noqa: E402


class Bench:
    def __init__(self, endpoint: str, work: Path) -> None:
        self.endpoint, self.work = endpoint, work
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GOOGLE_", "STORAGE_EMULATOR", "RCLONE_", "CLOUDSDK_"))
        }
        self.fsr_env = {
            **base,
            "STORAGE_EMULATOR_HOST": endpoint,
            "CLOUDSDK_CONFIG": str(work / "no-gcloud"),
            "XDG_CACHE_HOME": str(work / "cache"),
        }
        self.rclone_env = {
            **base,
            "RCLONE_CONFIG": str(work / "no-rclone.conf"),
            "RCLONE_CONFIG_EMU_TYPE": "google cloud storage",
            "RCLONE_CONFIG_EMU_ENDPOINT": f"{endpoint}/storage/v1/",
            "RCLONE_CONFIG_EMU_ANONYMOUS": "true",
        }

    def bucket(self) -> str:
        # A fresh bucket per run, never emptied: one delete per object would cost the
        # benchmark minutes, and the server with everything in it goes at the end.
        return fakegcs.new_bucket(self.endpoint)

    def fsr_sync(self, src: Path, bucket: str, transfers: int, state: Path) -> tuple[float, float]:
        cmd = [sys.executable, "-m", "fsreplica", "sync", str(src), f"gs://{bucket}/t"]
        cmd += ["--state", str(state), "--transfers", str(transfers), "-q"]
        return timed(cmd, self.fsr_env)

    def rclone_sync(
        self, src: Path, bucket: str, transfers: int, *flags: str
    ) -> tuple[float, float]:
        cmd = ["rclone", "sync", str(src), f"emu:{bucket}/t", "--transfers", str(transfers), *flags]
        return timed(cmd, self.rclone_env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--big", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="write the figures to this file too (read by plot.py)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="fsreplica-gcs-bench-"))
    server = fakegcs.FakeGCS().start()
    try:
        bench = Bench(server.endpoint, work)
        src = work / "src"
        total = make_tree(src, args.small, args.big)
        print(
            f"tree: {args.small + args.big} files, {total / 2**20:.0f} MiB; fake-gcs-server "
            f"{server.endpoint}; load average {os.getloadavg()[0]:.2f} at start"
        )
        rows: dict[str, list[tuple[float, float]]] = {}
        fast = ("--fast-list", "--update", "--use-server-modtime")
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
                bucket = bench.bucket()
                rows.setdefault(f"rclone sync --transfers {transfers}", []).append(
                    bench.rclone_sync(src, bucket, transfers)
                )
                rows.setdefault(f"rclone re-sync, no change (t={transfers})", []).append(
                    bench.rclone_sync(src, bucket, transfers)
                )
                rows.setdefault(f"rclone re-sync {' '.join(fast)} (t={transfers})", []).append(
                    bench.rclone_sync(src, bucket, transfers, *fast)
                )
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
            print(f"sync t={t}: wall {f[0] / r[0]:.2f}x rclone, cpu {f[1] / r[1]:.2f}x rclone")
        f = med["fsreplica re-sync, no change (t=16)"]
        r = med[f"rclone re-sync {' '.join(fast)} (t=16)"]
        print(f"no-change re-sync: {f[0]:.2f} s vs rclone's best {r[0]:.2f} s ({f[0] / r[0]:.2f}x)")
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        _rows_json.write(
            args.json,
            bench="gcs",
            rows=_rows_json.medians(rows),
            pairs=[
                ("sync t=16", "fsreplica sync --transfers 16", "rclone sync --transfers 16"),
                ("sync t=4", "fsreplica sync --transfers 4", "rclone sync --transfers 4"),
                (
                    "no-change re-sync, rclone's best",
                    "fsreplica re-sync, no change (t=16)",
                    f"rclone re-sync {' '.join(fast)} (t=16)",
                ),
            ],
            loadavg_before=load_before,
            files=args.small + args.big,
            mib=total / 2**20,
            repeat=args.repeat,
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
