"""`sync --dry-run` and `verify` look only; the default excludes are counted; a vanishing walk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_cli_replicate_helpers import Daemon, fsreplica, tree

NOTE = "3 excluded by the default patterns"
HOW = "--no-default-excludes to include them"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """XDG homes of the test's own, to see whether anything lands in them."""
    return {
        **os.environ,
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
    }


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Regular files, a FIFO, a symlink and three entries the default patterns exclude."""
    root = tmp_path / "src"
    (root / "sub" / ".git").mkdir(parents=True)
    (root / "b.txt").write_text("b")
    (root / "sub" / "a.txt").write_text("a")
    (root / ".bashrc").write_text("rc")  # excluded (.*)
    (root / "sub" / ".git" / "HEAD").write_text("ref")  # below an excluded directory
    (root / "notes.txt~").write_text("old")  # excluded (*~)
    (root / "z.txt").write_text("z")
    os.mkfifo(root / "fifo")
    (root / "link").symlink_to("b.txt")
    return root


class TestDryRun:
    def test_creates_nothing_and_lists_everything_sorted(
        self, tmp_path: Path, src: Path, env: dict[str, str]
    ) -> None:
        dst = tmp_path / "new" / "dst"
        result = fsreplica("sync", "--dry-run", src, dst, env=env)
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[:-1] == [
            "put: b.txt",
            "skip: fifo (not a regular file: fifo)",
            "skip: link (symlink; --links to copy it)",
            "put: sub/a.txt",
            "put: z.txt",
        ]
        assert lines[-1].startswith("dry run: 3 to copy or check, 0 to delete, 0 unchanged")
        assert "2 skipped" in lines[-1]
        assert NOTE in lines[-1]
        assert HOW in lines[-1]
        assert not (tmp_path / "new").exists()
        assert not (tmp_path / "xdg-state").exists()
        status = fsreplica("status", src, dst, env=env)
        assert status.returncode == 2

    def test_with_an_existing_pair_writes_nothing(self, tmp_path: Path, src: Path) -> None:
        dst, state = tmp_path / "dst", tmp_path / "s.db"
        assert fsreplica("sync", src, dst, "--state", state).returncode == 0
        (src / "b.txt").unlink()
        (src / "c.txt").write_text("c")
        (dst / "b.txt").chmod(0o600)
        before = {p: (p.lstat().st_mtime_ns, p.lstat().st_mode) for p in tmp_path.rglob("*")}
        state_bytes = state.read_bytes()
        result = fsreplica("sync", "-n", src, dst, "--state", state, "--max-delete", "0")
        assert result.returncode == 0, result.stderr
        assert "put: c.txt" in result.stdout
        assert "refuse: would delete 1 files, more than --max-delete 0" in result.stdout
        assert {
            p: (p.lstat().st_mtime_ns, p.lstat().st_mode) for p in tmp_path.rglob("*")
        } == before
        assert state.read_bytes() == state_bytes
        deleting = fsreplica("sync", "-n", src, dst, "--state", state)
        assert "delete: b.txt" in deleting.stdout
        assert "1 to delete" in deleting.stdout


class TestVerifyLooksOnly:
    def test_missing_dest_is_not_created(self, tmp_path: Path, src: Path) -> None:
        dst = tmp_path / "nowhere"
        result = fsreplica("verify", src, dst)
        assert result.returncode == 1
        assert "missing: b.txt" in result.stdout
        assert not dst.exists()


class TestDefaultExcludesShown:
    def test_sync_summary_counts_them(self, tmp_path: Path, src: Path) -> None:
        result = fsreplica("sync", src, tmp_path / "dst", "--state", tmp_path / "s.db")
        assert result.returncode == 0, result.stderr
        summary = result.stderr.splitlines()[-1]
        assert "3 copied" in summary
        assert NOTE in summary
        assert HOW in summary
        everything = fsreplica(
            "sync", "--no-default-excludes", src, tmp_path / "all", "--state", tmp_path / "a.db"
        )
        assert "6 copied" in everything.stderr
        assert "excluded" not in everything.stderr

    def test_replicate_initial_sync_line_counts_them(self, tmp_path: Path, src: Path) -> None:
        daemon = Daemon(tmp_path, src, tmp_path / "dst")
        try:
            daemon.wait_ready()
            line = next(x for x in daemon.output().splitlines() if "initial sync" in x)
            assert daemon.terminate() == 0
        finally:
            daemon.close()
        assert NOTE in line
        assert HOW in line


class TestVanishingDirectories:
    def test_directories_removed_during_the_walk_are_not_failures(self, tmp_path: Path) -> None:
        # A racing thread removes and recreates many directories while sync walks them: each
        # one listed in its parent and gone before its own listing is simply gone.
        src = tmp_path / "src"
        churn = src / "churn"
        churn.mkdir(parents=True)
        (src / "keep.txt").write_text("keep")
        names = [f"d{i}" for i in range(400)]
        stop = threading.Event()

        def race() -> None:
            while not stop.is_set():
                for name in names:
                    (churn / name / "x").mkdir(parents=True, exist_ok=True)
                for name in names:
                    shutil.rmtree(churn / name, ignore_errors=True)

        racer = threading.Thread(target=race)
        racer.start()
        try:
            for run in range(3):
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "fsreplica",
                        "sync",
                        str(src),
                        str(tmp_path / "dst"),
                        "--state",
                        str(tmp_path / f"s{run}.db"),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=25,
                    check=False,
                )
                assert result.returncode == 0, result.stderr
                assert "no such file" not in result.stderr.lower(), result.stderr
        finally:
            stop.set()
            racer.join()
        assert tree(tmp_path / "dst")["keep.txt"] == b"keep"
