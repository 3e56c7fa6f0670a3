"""Where `replicate`'s memory goes as new files appear: Python heap growth per file, by site.

Usage: python benchmarks/heap_bench.py [--files 60000] [--dirs 100] [--fs ext4|tmpfs]
       [--top 8] [--json FILE]

A `Replicator` runs in this process on an empty tree of --dirs directories. Once it is live,
--files new 1.5 KiB files are written (in bursts of 2,500 with a pause between, as a steady
writer would), and the heap is compared (tracemalloc, 5 frames) between the moment it went live
and the moment every file is at DEST; then every file is rewritten with new bytes and the heap
compared again once DEST has them all. Printed: growth and bytes per new file with the sites
that grew most (innermost frames), and growth per change of an existing file. This is the
measurement behind the sustained rows' "RSS flat" target: growth per file in the tree (names the
watcher must know to find deletions after an overflow) is told apart from growth per change
(which would be a leak).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _bench_meta import commit, machine
from _wait import wait_until

from fsreplica import Replicator

FS_DIRS = {"ext4": "/var/tmp", "tmpfs": "/dev/shm"}
BURST = 2500
DEADLINE = 600.0


def _count(root: str, *, size: int | None = None) -> int:
    """Published files under `root` (of `size` bytes, if given); temporary dot-files skipped."""
    count = 0
    for top, _, files in os.walk(root):
        for name in files:
            if name.startswith("."):
                continue
            if size is not None:
                try:
                    if os.stat(os.path.join(top, name)).st_size != size:
                        continue
                except FileNotFoundError:
                    continue
            count += 1
    return count


def _short(filename: str) -> str:
    """`filename` from the package's directory on (site-packages or a checkout alike)."""
    _, sep, tail = filename.rpartition(os.sep + "fsreplica" + os.sep)
    return f"fsreplica{os.sep}{tail}" if sep else filename


def measure(files: int, dirs: int, base: str, top: int) -> dict[str, Any]:
    """Run the replicator, write `files` new files, then rewrite them; return the heap growth
    per new file (by site) and per change."""
    src, dst = os.path.join(base, "src"), os.path.join(base, "dst")
    os.mkdir(src)
    for d in range(dirs):
        os.mkdir(os.path.join(src, f"d{d}"))
    replicator = Replicator(src, dst, state=os.path.join(base, "state.db"))
    live = threading.Event()
    thread = threading.Thread(target=replicator.run, kwargs={"on_ready": lambda _: live.set()})
    thread.start()
    try:
        if not live.wait(60):
            raise RuntimeError("replicate did not go live in 60 s")
        gc.collect()
        tracemalloc.start(5)
        before = tracemalloc.take_snapshot()
        _write(src, files, dirs, b"x" * 1500)
        wait_until(lambda: _count(dst) >= files, DEADLINE, "the new files at DEST", poll=0.2)
        gc.collect()
        after = tracemalloc.take_snapshot()
        # The same files again, with new bytes: what a change (not a new file) costs.
        _write(src, files, dirs, b"y" * 1600)
        wait_until(
            lambda: _count(dst, size=1600) >= files,
            DEADLINE,
            "the rewritten files at DEST",
            poll=0.2,
        )
        gc.collect()
        rewritten = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        replicator.stop()
        thread.join(60)
    total = _growth(before, after)
    changes = _growth(after, rewritten)
    sites = []
    for stat in after.compare_to(before, "traceback")[:top]:
        frames = [f"{_short(f.filename)}:{f.lineno}" for f in stat.traceback]
        sites.append({"bytes": stat.size_diff, "blocks": stat.count_diff, "frames": frames})
    return {
        "files": files,
        "heap_growth": total,
        "per_file": total / files,
        "rewrite_growth": changes,
        "per_change": changes / files,
        "sites": sites,
    }


def _growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> int:
    return sum(stat.size_diff for stat in after.compare_to(before, "filename"))


def _write(src: str, files: int, dirs: int, payload: bytes) -> None:
    """Write `files` files of `payload`, in bursts with a pause between (a steady writer)."""
    for i in range(files):
        with open(os.path.join(src, f"d{i % dirs}", f"f{i}.dat"), "wb") as f:
            f.write(payload)
        if i % BURST == BURST - 1:
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60000)
    parser.add_argument("--dirs", type=int, default=100)
    parser.add_argument("--fs", choices=sorted(FS_DIRS), default="ext4")
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="fsr-heap-", dir=FS_DIRS[args.fs])
    try:
        out = measure(args.files, args.dirs, base, args.top)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    growth = out["heap_growth"] / 2**20
    print(
        f"{args.files:,} new files on {args.fs}: Python heap +{growth:.2f} MiB, "
        f"{out['per_file']:.0f} B per file (load {os.getloadavg()[0]:.2f})"
    )
    for site in out["sites"]:
        inner = " <- ".join(reversed(site["frames"][-2:]))
        print(f"  {site['bytes'] / 1024:9.0f} KiB {site['blocks']:8d} blocks  {inner}")
    print("  (each site: where the memory was allocated <- its caller)")
    print(
        f"the same {args.files:,} files rewritten: Python heap "
        f"{out['rewrite_growth'] / 2**20:+.2f} MiB, {out['per_change']:.1f} B per change"
    )
    if args.json:
        meta = {"commit": commit(), "machine": machine(), "loadavg": os.getloadavg()}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "heap": out}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
