"""Every row of issue 14's table from one command: the benchmarks one after the other.

Usage: python benchmarks/perf_bench.py [--quick] [--only NAME[,...]] [--million]

Runs, each in its own process (and each tool in a fresh process inside it):

- `watcher`: watcher_bench.py (latency, bursts, paced writers at 100/1,000/10,000 files/s,
  ready time, overflow, idle) against watchfiles, watchdog, inotifywait and the naive floor;
- `sustained`: sustained_bench.py (`replicate` under a steady writer: 250, 2,500, 25,000 files/s);
  `sustained_rgw`: the same at 250 files/s to a single-node Ceph RGW it starts (`--dest rgw`),
  skipped with its one-line reason where Ceph is not installed;
- `small`: smallfiles_bench.py (one-shot sync, no-change re-sync and `replicate` start-up on
  10k and 100k small files, 1M with --million) against rsync and rclone, on tmpfs; `small_ext4`:
  the same on ext4 (/var/tmp); with --million the watcher part also times ready on a 1M-file
  tree;
- `replication`: replication_bench.py (close -> bytes at DEST latency; 10,020 files / 424 MiB
  one-shot and no-change re-sync against rsync and rclone; convergence).

Each part prints its own table with medians, ratios and the load average; their figures are
gathered into benchmarks/results/perf-<UTC time>.json (one key per part, with its command, the
load averages before and after it, and `meta`: machine, commit, start time), and the command
that turns them into plots and docs/benchmarks.md's results section is printed at the end
(`python3 benchmarks/plot.py benchmarks/results/perf-<UTC time>.json`). --quick takes a few
minutes (small sizes, one round): a smoke run whose figures are not the ones to quote. The full
run takes about an hour, more with --million.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _bench_meta  # noqa: E402  (beside this script)

RESULTS = HERE / "results"


def parts(quick: bool, million: bool) -> dict[str, list[str]]:
    """The command line of each part, without its --json."""
    py = sys.executable
    if quick:
        return {
            "watcher": [py, str(HERE / "watcher_bench.py"), "--quick"],
            "sustained": [
                py,
                str(HERE / "sustained_bench.py"),
                "--rates",
                "250,2500",
                "--seconds",
                "10",
            ],
            "sustained_rgw": [
                py,
                str(HERE / "sustained_bench.py"),
                "--dest",
                "rgw",
                "--seconds",
                "10",
            ],
            "small": [py, str(HERE / "smallfiles_bench.py"), "--sizes", "10000", "--repeat", "1"],
            "small_ext4": [
                py,
                str(HERE / "smallfiles_bench.py"),
                "--fs",
                "ext4",
                "--sizes",
                "10000",
                "--repeat",
                "1",
            ],
            "replication": [
                py,
                str(HERE / "replication_bench.py"),
                "--files",
                "2000",
                "--big",
                "2",
                "--repeat",
                "1",
                "--samples",
                "50",
            ],
        }
    sizes = "10000,100000,1000000" if million else "10000,100000"
    return {
        "watcher": [py, str(HERE / "watcher_bench.py"), *(["--million"] if million else [])],
        "sustained": [py, str(HERE / "sustained_bench.py")],
        "sustained_rgw": [py, str(HERE / "sustained_bench.py"), "--dest", "rgw"],
        "small": [py, str(HERE / "smallfiles_bench.py"), "--sizes", sizes],
        "small_ext4": [py, str(HERE / "smallfiles_bench.py"), "--fs", "ext4", "--sizes", sizes],
        "replication": [py, str(HERE / "replication_bench.py")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--only", default=None, help="comma-separated parts to run")
    parser.add_argument("--million", action="store_true", help="also the 1M-file tree")
    parser.add_argument("--out", default=None, help="JSON file (default: results/perf-*.json)")
    args = parser.parse_args()
    chosen = parts(args.quick, args.million)
    if args.only:
        wanted = args.only.split(",")
        unknown = [name for name in wanted if name not in chosen]
        if unknown:
            parser.error(f"unknown part {unknown[0]!r}; choose from {', '.join(chosen)}")
        chosen = {name: cmd for name, cmd in chosen.items() if name in wanted}
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out_path = Path(args.out) if args.out else RESULTS / f"perf-{stamp}.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    commit = _bench_meta.commit()
    report: dict[str, Any] = {
        "meta": {
            "started": stamp,
            "quick": args.quick,
            "commit": commit,
            "cpus": os.cpu_count(),
            "machine": _bench_meta.machine(),
        },
    }
    for name, cmd in chosen.items():
        reason = skipped(name)
        if reason:
            print(f"=== {name}: skipped: {reason}", flush=True)
            report[name] = {"command": cmd[1:], "figures": None, "error": f"skipped: {reason}"}
            out_path.write_text(json.dumps(report, indent=1))
            continue
        print(f"=== {name}: {' '.join(cmd[1:])}  (load {os.getloadavg()[0]:.2f})", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json") as part:
            before = os.getloadavg()
            started = time.perf_counter()
            code = subprocess.run([*cmd, "--json", part.name], check=False).returncode
            entry: dict[str, Any] = {
                "command": cmd[1:],
                "exit": code,
                "seconds": time.perf_counter() - started,
                "loadavg_before": before,
                "loadavg_after": os.getloadavg(),
            }
            try:
                entry["figures"] = json.loads(Path(part.name).read_text() or "null")
            except (OSError, json.JSONDecodeError) as exc:
                entry["figures"] = None
                entry["error"] = str(exc)
        report[name] = entry
        out_path.write_text(json.dumps(report, indent=1))  # kept as each part ends
    print(f"figures written to {out_path}")
    print("pictures and the results section of docs/benchmarks.md (needs matplotlib):")
    print(f"  python3 benchmarks/plot.py {_shown(out_path)}")


def skipped(name: str) -> str | None:
    """Why part `name` cannot run on this machine (one line), or None."""
    if name == "sustained_rgw":
        import _sustained_rgw  # noqa: PLC0415  (beside this script)

        return _sustained_rgw.unavailable()
    return None


def _shown(path: Path) -> str:
    """`path` relative to the repository if it is inside it (the command runs from there)."""
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
