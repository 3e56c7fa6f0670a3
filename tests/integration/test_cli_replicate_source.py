"""`fsreplica replicate` when SRC goes away, comes back, or holds a directory it cannot read."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from test_cli_replicate_helpers import (
    DEADLINE,
    WITHOUT_READ_OVERRIDE,
    Daemon,
    fsreplica,
    tree,
    wait_for,
)
from test_cli_unreadable import fsreplica_without_read_override

EXIT_SOURCE_LOST = 3


def _tree(root: Path) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "top.txt").write_text("top")
    (root / "docs" / "a.txt").write_text("a")
    return root


def _lose(src: Path, how: str) -> None:
    if how == "moved away":
        src.rename(src.with_name("moved"))
    else:
        shutil.rmtree(src)


class TestSourceLost:
    """SRC deleted or moved away: exit 3 with one line, or wait for it with --wait-for-source."""

    @pytest.mark.parametrize("how", ["moved away", "deleted"])
    def test_exits_3_with_one_line(self, tmp_path: Path, how: str) -> None:
        src, dst = _tree(tmp_path / "src"), tmp_path / "dst"
        daemon = Daemon(tmp_path, src, dst)
        try:
            daemon.wait_ready()
            _lose(src, how)
            assert daemon.proc.wait(DEADLINE) == EXIT_SOURCE_LOST, daemon.output()
            lines = [line for line in daemon.output().splitlines() if "watched root" in line]
            assert lines == [f"fsreplica: watch {src}: watched root was {how}"], daemon.output()
        finally:
            daemon.close()

    @pytest.mark.parametrize("how", ["moved away", "deleted"])
    def test_wait_for_source_goes_on_when_it_returns(self, tmp_path: Path, how: str) -> None:
        src, dst = _tree(tmp_path / "src"), tmp_path / "dst"
        daemon = Daemon(tmp_path, src, dst, "--wait-for-source", "--max-delete", "-1")
        try:
            daemon.wait_ready()
            _lose(src, how)
            wait_for(lambda: "waiting for it to return" in daemon.output(), "the wait")
            (src / "new").mkdir(parents=True)  # back, with a file made before it is watched
            (src / "new" / "early.txt").write_text("early")
            wait_for(lambda: tree(dst).get("new/early.txt") == b"early", "the reconcile")
            # live again: a change is replicated at once, not at the next scan (an hour away)
            (src / "live.txt").write_text("live")
            wait_for(lambda: tree(dst) == tree(src), "live replication")
            assert daemon.proc.poll() is None, daemon.output()
            assert daemon.terminate() == 0, daemon.output()
        finally:
            daemon.close()

    def test_stop_while_waiting(self, tmp_path: Path) -> None:
        src, dst = _tree(tmp_path / "src"), tmp_path / "dst"
        daemon = Daemon(tmp_path, src, dst, "--wait-for-source")
        try:
            daemon.wait_ready()
            shutil.rmtree(src)
            wait_for(lambda: "waiting for it to return" in daemon.output(), "the wait")
            assert daemon.terminate() == 0, daemon.output()
        finally:
            daemon.close()


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
class TestUnreadableDirectory:
    """A directory under SRC that cannot be read is a failure of its path, not of the run."""

    def test_replicate_starts_reports_once_and_retries(self, tmp_path: Path) -> None:
        src, dst, state = _tree(tmp_path / "src"), tmp_path / "dst", tmp_path / "state.db"
        locked = src / "locked"
        locked.mkdir()
        (locked / "s.txt").write_text("secret")
        locked.chmod(0)
        log = tmp_path / "replicate.log"
        command = [
            *WITHOUT_READ_OVERRIDE,
            "replicate",
            str(src),
            str(dst),
            "--state",
            str(state),
            "--scan-interval",
            "0.5",
        ]
        with open(log, "w") as err, subprocess.Popen(command, stderr=err) as proc:
            try:
                wait_for(
                    lambda: "initial sync" in log.read_text() or proc.poll() is not None,
                    "replicate to be ready",
                )
                assert proc.poll() is None, log.read_text()
                (src / "docs" / "live.txt").write_text("live")
                readable = {k: v for k, v in tree(src).items() if not k.startswith("locked/")}
                wait_for(lambda: tree(dst) == readable, "everything else at DEST")
                # a few reconciles later, still one line about it
                wait_for(lambda: _reconciles(state) >= 3, "three reconciles")
                about = [line for line in log.read_text().splitlines() if "locked" in line]
                assert len(about) == 1, log.read_text()
                assert "permission denied" in about[0], about
                status = fsreplica("status", src, dst, "--state", state)
                listed = [line for line in status.stdout.splitlines() if "locked: " in line]
                assert len(listed) == 1, status.stdout
                assert "permission denied" in listed[0], status.stdout
                assert status.returncode == 1, status.stdout + status.stderr

                locked.chmod(0o755)  # readable again: found at the next reconcile, then watched
                wait_for(lambda: tree(dst).get("locked/s.txt") == b"secret", "the retry")
                (locked / "later.txt").write_text("later")
                wait_for(lambda: tree(dst) == tree(src), "the directory replicated")
                status = fsreplica("status", src, dst, "--state", state)
                assert "locked" not in status.stdout, status.stdout
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(DEADLINE) == 0, log.read_text()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(DEADLINE)

    def test_sync_lists_it_in_status_until_readable(self, tmp_path: Path) -> None:
        src, dst, state = _tree(tmp_path / "src"), tmp_path / "dst", tmp_path / "state.db"
        locked = src / "locked"
        locked.mkdir()
        (locked / "s.txt").write_text("secret")
        locked.chmod(0)
        first = fsreplica_without_read_override("sync", src, dst, "--state", state)
        assert first.returncode == 1, first.stderr
        assert tree(dst) == {"top.txt": b"top", "docs/a.txt": b"a"}
        status = fsreplica("status", src, dst, "--state", state)
        assert "locked: scan: permission denied" in status.stdout, status.stdout
        locked.chmod(0o755)
        second = fsreplica_without_read_override("sync", src, dst, "--state", state)
        assert second.returncode == 0, second.stderr
        assert tree(dst) == tree(src)
        assert "locked" not in fsreplica("status", src, dst, "--state", state).stdout


def _reconciles(state: Path) -> int:
    """How many reconciles a running replicator has done, from its failure's attempt count."""
    status = fsreplica("status", "--state", state)
    for line in status.stdout.splitlines():
        if "locked:" in line and "x, last" in line:
            return int(line.rsplit("(", 1)[1].split("x", 1)[0])
    return 0
