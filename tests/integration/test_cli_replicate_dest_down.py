"""`fsreplica replicate` to a local DEST that fills up or goes read-only, for real (tmpfs mounts).

Both pass: the changes wait and go through once the condition clears, and the user reads one
line when it starts (with what is waiting) and one when it is over, never one per file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_replicate_helpers import DEADLINE, Daemon, fsreplica, tree, wait_for


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[None]:
    """Mount a tmpfs of `size` on `path` for the block (skip the test where that is not allowed)."""
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True, timeout=DEADLINE)


def remount(path: Path, mode: str) -> None:
    """Remount `path` "ro" or "rw" (a file open for writing there delays "ro": try again)."""
    end = time.monotonic() + DEADLINE
    while True:
        done = subprocess.run(
            ["mount", "-o", f"remount,{mode}", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return
        if time.monotonic() > end:
            raise AssertionError(f"remount,{mode} {path}: {done.stderr.strip()}")
        time.sleep(0.05)


def fill(path: Path) -> None:
    """Write `path` until its file system has no space left."""
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    with open(path, "ab", buffering=0) as f, contextlib.suppress(OSError):
        while True:  # the last partial pages too
            f.write(b"\0" * 512)


def lines_with(text: str, output: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


def converged(src: Path, dst: Path) -> None:
    wait_for(lambda: tree(src) == tree(dst), "DEST to mirror SRC")
    result = fsreplica("verify", src, dst)
    assert result.returncode == 0, result.stdout + result.stderr


def test_full_destination_is_waited_out_and_said_once(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "before.txt").write_text("replicated before the disk filled up")
    with tmpfs(dst, "1m"):
        d = Daemon(tmp_path, src, dst)
        try:
            d.wait_ready()
            converged(src, dst)
            fill(dst / ".filler")
            for i in range(20):
                (src / f"f{i}.bin").write_bytes(os.urandom(8192))
            wait_for(lambda: "unavailable" in d.output(), "the outage to be logged")
            (dst / ".filler").unlink()
            freed = time.monotonic()
            converged(src, dst)
            drained = time.monotonic() - freed
            wait_for(lambda: "available again" in d.output(), "the end of the outage to be logged")
            output = d.output()
            start = lines_with("unavailable", output)
            assert len(start) == 1, output
            assert "no space left on device" in start[0], output
            assert "changes waiting" in start[0], output
            assert len(lines_with("no space left on device", output)) == 2, output  # start, end
            assert drained < 8, f"the backlog took {drained:.1f} s to drain"
            assert d.terminate() == 0
        finally:
            d.close()


def test_read_only_destination_is_waited_out_and_said_once(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for i in range(5):
        (src / f"old{i}.txt").write_text(f"old {i}")
    with tmpfs(dst, "16m"):
        d = Daemon(tmp_path, src, dst)
        try:
            d.wait_ready()
            converged(src, dst)
            remount(dst, "ro")
            try:
                for i in range(30):
                    (src / f"new{i}.txt").write_text(f"written while DEST was read-only {i}")
                (src / "old0.txt").unlink()
                wait_for(lambda: "unavailable" in d.output(), "the outage to be logged")
            finally:
                remount(dst, "rw")
            converged(src, dst)
            wait_for(lambda: "available again" in d.output(), "the end of the outage to be logged")
            output = d.output()
            assert len(lines_with("unavailable: read-only file system", output)) == 1, output
            assert len(lines_with("read-only file system", output)) == 2, output  # start, end
            status = fsreplica("status", "--state", d.state)
            assert "failed: 0" in status.stdout, status.stdout
            assert d.terminate() == 0
        finally:
            d.close()
