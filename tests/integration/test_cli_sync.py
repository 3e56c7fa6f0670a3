"""`fsreplica sync`, `verify` and `status` as real processes: exit codes and output."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_replicate_helpers import fsreplica, tree


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "d").mkdir(parents=True)
    for i in range(6):
        (root / "d" / f"f{i}").write_bytes(os.urandom(100 * i))
    (root / "top.txt").write_text("top")
    os.mkfifo(root / "fifo")
    (root / "link").symlink_to("/etc/hostname")
    return root


class TestSync:
    """One reconcile, then exit."""

    def test_batches_fit_a_low_open_file_limit(self, tmp_path: Path) -> None:
        # Staged files keep descriptors open until their batch is published.
        src = tmp_path / "many"
        for i in range(600):
            (src / f"d{i % 7}").mkdir(parents=True, exist_ok=True)
            (src / f"d{i % 7}" / f"f{i}").write_bytes(os.urandom(i))
        dst, state = tmp_path / "dst", tmp_path / "s.db"
        args = ["sync", str(src), str(dst), "--state", str(state), "--transfers", "16"]

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

        result = subprocess.run(
            [sys.executable, "-m", "fsreplica", *args],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=limit,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "600 copied" in result.stderr
        assert tree(dst) == tree(src)

    def test_help_lists_every_command_and_each_has_its_own(self) -> None:
        # The parser of a known subcommand is built alone (start-up time): check both ways.
        top = fsreplica("--help")
        assert top.returncode == 0
        for name in ("watch", "sync", "replicate", "verify", "status"):
            assert name in top.stdout
            assert fsreplica(name, "--help").returncode == 0
        assert fsreplica("bogus").returncode == 2

    def test_sync_verify_status(self, tmp_path: Path, src: Path) -> None:
        dst, state = tmp_path / "dst", tmp_path / "s.db"
        result = fsreplica("sync", src, dst, "--state", state)
        assert result.returncode == 0, result.stderr
        assert "7 copied" in result.stderr
        assert "skip" in result.stderr
        assert "fifo" in result.stderr
        assert tree(dst) == tree(src)
        assert fsreplica("verify", src, dst).returncode == 0
        again = fsreplica("sync", src, dst, "--state", state)
        assert "0 copied" in again.stderr
        status = fsreplica("status", "--state", state)
        assert status.returncode == 0
        assert "files replicated: 7" in status.stdout

    def test_dry_run_changes_nothing(self, tmp_path: Path, src: Path) -> None:
        dst = tmp_path / "dst"
        result = fsreplica("sync", "--dry-run", src, dst, "--state", tmp_path / "s.db")
        assert result.returncode == 0
        assert "put: top.txt" in result.stdout
        assert tree(dst) == {}

    def test_verify_lists_differences(self, tmp_path: Path, src: Path) -> None:
        dst = tmp_path / "dst"
        fsreplica("sync", src, dst, "--state", tmp_path / "s.db")
        (dst / "top.txt").write_text("TOP")
        (dst / "extra").write_text("x")
        (dst / "d" / "f1").unlink()
        result = fsreplica("verify", src, dst)
        assert result.returncode == 1
        assert result.stdout.splitlines() == ["missing: d/f1", "extra: extra", "content: top.txt"]

    def test_no_delete_and_max_delete(self, tmp_path: Path, src: Path) -> None:
        dst, state = tmp_path / "dst", tmp_path / "s.db"
        fsreplica("sync", src, dst, "--state", state)
        for i in range(5):
            (src / "d" / f"f{i}").unlink()
        refused = fsreplica("sync", src, dst, "--state", state)
        assert refused.returncode == 1
        assert "more than half" in refused.stderr
        kept = fsreplica("sync", "--no-delete", src, dst, "--state", state)
        assert kept.returncode == 0
        assert (dst / "d" / "f0").exists()
        allowed = fsreplica("sync", "--max-delete", "5", src, dst, "--state", state)
        assert allowed.returncode == 0
        assert "5 deleted" in allowed.stderr
        assert fsreplica("verify", src, dst).returncode == 0

    def test_usage_errors_exit_2(self, tmp_path: Path, src: Path) -> None:
        assert fsreplica("sync", src, src / "inside").returncode == 2
        assert not (src / "inside").exists()
        assert fsreplica("sync", tmp_path / "missing", tmp_path / "d").returncode == 2
        assert fsreplica("sync", src, "gopher://x/y").returncode == 2
        assert fsreplica("sync", "--transfers", "0", src, tmp_path / "d").returncode == 2
        assert fsreplica("status", "--state", tmp_path / "none.db").returncode == 2

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything")
    def test_unreadable_file_exit_1_listed_in_status(self, tmp_path: Path, src: Path) -> None:
        (src / "top.txt").chmod(0)
        dst, state = tmp_path / "dst", tmp_path / "s.db"
        result = fsreplica("sync", src, dst, "--state", state)
        assert result.returncode == 1
        assert "top.txt: permission denied" in result.stderr
        status = fsreplica("status", "--state", state)
        assert "top.txt" in status.stdout
