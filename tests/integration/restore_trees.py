"""Helpers for the restore tests (no tests here): trees with varied names, modes and mtimes, and
a snapshot of a tree that compares content, mtime and mode byte for byte, symlinks included."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from byte_names import BAD

FSREPLICA = [sys.executable, "-m", "fsreplica"]
MTIME = 1_600_000_000_123_456_789

Entry = tuple[str, bytes, int, int]
"""(kind, content or link text, mtime_ns, mode) of a file or symlink."""

# Names that trouble text: not UTF-8, a newline, a control, the S3 key escape, a space.
NAMES = [
    BAD,
    b"new\nline",
    b"ctl\x01x",
    "quote\u201bq".encode(),
    b"dir \xe9/inner \xff.bin",
    "caf\u00e9/\u65e5\u672c.txt".encode(),
]


def snapshot(root: Path) -> dict[bytes, Entry]:
    """Every file and symlink under `root` by relative path as bytes (directories left out)."""
    out: dict[bytes, Entry] = {}
    base = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(base):
        for name in [*filenames, *dirnames]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, base)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path), st.st_mtime_ns, 0)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    out[rel] = ("file", f.read(), st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return out


def write_tree(root: Path, files: dict[bytes, bytes]) -> None:
    """Write `files` under `root`, each with its own mode and mtime (drawn from its index)."""
    base = os.fsencode(root)
    modes = (0o644, 0o600, 0o755, 0o640, 0o444, 0o700)
    for i, (rel, data) in enumerate(sorted(files.items())):
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, modes[i % len(modes)])
        os.utime(path, ns=(MTIME + i * 1_000_001, MTIME + i * 1_000_001))


def mixed_tree(root: Path) -> dict[bytes, bytes]:
    """A tree with tricky names, nested directories, an empty file and a 3 MiB one."""
    files = {name: name[::-1] * 3 for name in NAMES}
    files[b"empty"] = b""
    files[b"a/b/c/deep.txt"] = b"deep\n"
    files[b"big.bin"] = os.urandom(3 * 1024 * 1024)
    write_tree(root, files)
    return files


def fsreplica(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 28
) -> subprocess.CompletedProcess[str]:
    """Run `fsreplica ARGS` to completion."""
    return subprocess.run(
        [*FSREPLICA, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def sync(
    source: Path, dest: str | Path, *args: str, state: Path, env: dict[str, str] | None = None
) -> None:
    """`fsreplica sync` with every name (no default excludes); fails the test if it fails."""
    done = fsreplica(
        "sync", source, dest, "--no-default-excludes", "-q", "--state", state, *args, env=env
    )
    assert done.returncode == 0, done.stderr
