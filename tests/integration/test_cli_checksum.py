"""Repairing what `verify` finds: metadata drift reported, same-size corruption re-copied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_cli_replicate_helpers import Daemon, fsreplica, tree, wait_for


@pytest.fixture
def synced(tmp_path: Path) -> tuple[Path, Path, Path]:
    src, dst, state = tmp_path / "src", tmp_path / "dst", tmp_path / "s.db"
    (src / "d").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "a.txt").chmod(0o644)
    (src / "d" / "b.txt").write_text("bravo")
    (src / "c.txt").write_text("charlie")
    assert fsreplica("sync", src, dst, "--state", state).returncode == 0
    return src, dst, state


def corrupt(path: Path, data: bytes) -> None:
    """Overwrite `path` with `data` of the same size, keeping its mtime (as bit rot would)."""
    st = path.stat()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


class TestVerifyDrift:
    def test_mode_and_mtime_drift_is_its_own_kind(self, synced: tuple[Path, Path, Path]) -> None:
        src, dst, _ = synced
        (dst / "a.txt").chmod(0o600)
        os.utime(dst / "d" / "b.txt", ns=(0, 1_000_000_000))
        corrupt(dst / "c.txt", b"CHARLIE")
        result = fsreplica("verify", src, dst)
        assert result.returncode == 1
        lines = result.stdout.splitlines()
        assert lines[0].startswith("metadata: a.txt (mode 0644 at the source, 0600 at the dest")
        assert lines[1] == "content: c.txt"
        assert lines[2].startswith("metadata: d/b.txt (mtime ")
        assert "1970-01-01 00:00:01.000000000Z at the destination" in lines[2]
        assert len(lines) == 3
        assert "3 differences" in result.stderr


class TestChecksum:
    def test_sync_checksum_repairs_same_size_corruption(
        self, tmp_path: Path, synced: tuple[Path, Path, Path]
    ) -> None:
        src, dst, state = synced
        corrupt(dst / "d" / "b.txt", b"BRAVO")
        plain = fsreplica("sync", src, dst, "--state", state)
        assert "0 copied" in plain.stderr
        fresh = fsreplica("sync", src, dst, "--state", tmp_path / "fresh.db")
        assert "0 copied" in fresh.stderr
        assert (dst / "d" / "b.txt").read_bytes() == b"BRAVO"
        dry = fsreplica("sync", "-n", "--checksum", src, dst, "--state", state)
        assert dry.stdout.splitlines()[0] == "put: d/b.txt"
        assert (dst / "d" / "b.txt").read_bytes() == b"BRAVO"
        (dst / "a.txt").chmod(0o600)  # drift verify reports as metadata
        repaired = fsreplica("sync", "--checksum", src, dst, "--state", state)
        assert repaired.returncode == 0, repaired.stderr
        assert "2 copied" in repaired.stderr
        assert "1 unchanged" in repaired.stderr
        assert (dst / "a.txt").stat().st_mode & 0o777 == 0o644
        assert tree(dst) == tree(src)
        assert fsreplica("verify", src, dst).returncode == 0

    def test_replicate_checksum_repairs_at_its_reconciles(
        self, tmp_path: Path, synced: tuple[Path, Path, Path]
    ) -> None:
        src, dst, _ = synced
        corrupt(dst / "a.txt", b"ALPHA")
        daemon = Daemon(tmp_path, src, dst, "--checksum", "--scan-interval", "0.5")
        try:
            daemon.wait_ready()
            assert "1 copied" in daemon.output()
            assert (dst / "a.txt").read_bytes() == b"alpha"
            corrupt(dst / "c.txt", b"CHARLIX")  # between two reconciles
            wait_for(lambda: (dst / "c.txt").read_bytes() == b"charlie", "the periodic repair")
            assert daemon.terminate() == 0
        finally:
            daemon.close()
