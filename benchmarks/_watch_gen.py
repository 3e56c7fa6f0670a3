"""File layouts, and the writer process that creates them while a tool watches.

The writer is a separate process so its CPU time is never charged to the watcher being measured.
It prints "ready", creates nothing until it reads a line on stdin, then writes and exits.

    python _watch_gen.py KIND ROOT COUNT [RATE]   # KIND: burst | race | flat

With RATE (files a second) the writer keeps to a schedule (file i at start + i / RATE) instead
of writing as fast as it can: changes that arrive spread out, as a busy tree makes them all day.
"""

from __future__ import annotations

import os
import sys
import time

BURST_DIRS = 100
"""A burst spreads its files over this many directories that exist before watching starts."""
PAYLOAD = b"fsreplica benchmark payload\n" * 2

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC


def burst_keys(count: int) -> list[str]:
    """Keys of a burst: files spread round-robin over BURST_DIRS existing directories."""
    return [f"d{i % BURST_DIRS:03d}/f{i:06d}.txt" for i in range(count)]


def race_keys(count: int) -> list[str]:
    """Keys of the mkdir race: every file in a fresh three-level directory (`mkdir -p a/b/c`)."""
    return [f"r{i:05d}/b/c/f.txt" for i in range(count)]


def flat_keys(count: int) -> list[str]:
    """Keys of files written straight into the root."""
    return [f"o{i:05d}.txt" for i in range(count)]


def prepare_burst(root: str) -> None:
    """Create the directories a burst writes into (before the tool starts watching)."""
    for i in range(BURST_DIRS):
        os.mkdir(os.path.join(root, f"d{i:03d}"))


def build_tree(root: str, dirs: int, files: int) -> None:
    """Create `dirs` directories under `root` (two levels) holding `files` files in total."""
    top = max(1, round(dirs**0.5))
    leaves: list[str] = []
    made = 0
    for i in range(top):
        parent = os.path.join(root, f"t{i:03d}")
        os.mkdir(parent)
        leaves.append(parent)
        made += 1
    # Fill the top-level directories with sub-directories until the count is reached.
    i = 0
    while made < dirs:
        path = os.path.join(leaves[i % top], f"s{i:05d}")
        os.mkdir(path)
        leaves.append(path)
        made += 1
        i += 1
    for n in range(files):
        write_file(os.path.join(leaves[n % len(leaves)], f"f{n:06d}.txt"))


def write_file(path: str) -> None:
    """Create a small file and close it (the close is what a watcher reports)."""
    fd = os.open(path, _FLAGS, 0o644)
    try:
        os.write(fd, PAYLOAD)
    finally:
        os.close(fd)


def _write_all(root: str, keys: list[str], *, make_parents: bool, rate: float = 0.0) -> None:
    start = time.monotonic()
    for i, key in enumerate(keys):
        if rate:
            wait = start + i / rate - time.monotonic()
            if wait > 0.0005:
                time.sleep(wait)
        path = os.path.join(root, key)
        if make_parents:
            os.makedirs(os.path.dirname(path))
        write_file(path)


def main(argv: list[str]) -> int:
    kind, root, count = argv[1], argv[2], int(argv[3])
    rate = float(argv[4]) if len(argv) > 4 else 0.0
    keys = {"burst": burst_keys, "race": race_keys, "flat": flat_keys}[kind](count)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1  # the worker gave up before measuring
    started = time.perf_counter()
    _write_all(root, keys, make_parents=kind == "race", rate=rate)
    print(f"done {time.perf_counter() - started:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
