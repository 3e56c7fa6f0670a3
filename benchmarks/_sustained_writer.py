"""Writer process of the sustained-load benchmark: small files at a steady rate.

Usage: python _sustained_writer.py ROOT RATE SECONDS OUT

Writes RATE files a second for SECONDS into ROOT/d00..d99 (1-4 KiB each, names f<index>), on a
schedule (file i is due at start + i / RATE; a writer that falls behind writes the late ones at
once), waits for a line on stdin before starting, and writes the monotonic close time of every
file to OUT (one float per line, in index order).
"""

from __future__ import annotations

import os
import sys
import time


def main() -> None:
    root, rate, seconds, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    total = int(rate * seconds)
    payload = os.urandom(4096)
    dirs = [os.path.join(root, f"d{n:02d}") for n in range(100)]
    closed = [0.0] * total
    sys.stdin.readline()
    start = time.monotonic()
    for i in range(total):
        due = start + i / rate
        now = time.monotonic()
        if due > now + 0.0005:
            time.sleep(due - now)
        fd = os.open(f"{dirs[i % 100]}/f{i}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, payload[: 1024 + (i * 37) % 3072])
        os.close(fd)
        closed[i] = time.monotonic()
    with open(out, "w") as f:
        f.write("\n".join(f"{t:.6f}" for t in closed))
    print(f"{start:.6f} {time.monotonic():.6f}", flush=True)


if __name__ == "__main__":
    main()
