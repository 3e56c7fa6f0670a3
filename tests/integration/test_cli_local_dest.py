"""A local DEST through the CLI: deep paths, directory modes, holes, symlinks."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from test_cli_replicate_helpers import Daemon, fsreplica, tree, wait_for

PATH_MAX = 4096


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _fsreplica_umask(umask: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    def set_umask() -> None:
        os.umask(umask)

    return subprocess.run(
        [sys.executable, "-m", "fsreplica", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=set_umask,
        check=False,
    )


class TestDeepPaths:
    """A DEST path longer than PATH_MAX is one more file, at every run."""

    def test_sync_and_replicate_again_with_a_path_beyond_path_max(self, tmp_path: Path) -> None:
        # The source path fits in PATH_MAX; the same key under a longer DEST root does not.
        src = tmp_path / "s"
        deep = src.joinpath(*["d" * 200] * 15)
        deep.mkdir(parents=True)
        (deep / "leaf.txt").write_text("deep")
        (src / "top.txt").write_text("top")
        dst = tmp_path.joinpath(*["D" * 200] * 7, "dst")
        state = tmp_path / "s.db"
        assert len(str(dst / deep.relative_to(src) / "leaf.txt")) > PATH_MAX
        for _ in range(2):
            result = fsreplica("sync", src, dst, "--state", state)
            assert result.returncode == 0, result.stderr
            assert "Traceback" not in result.stderr
        assert "0 copied" in result.stderr
        fd = os.open(dst, os.O_RDONLY)
        try:
            for _ in range(15):
                new = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = new
            leaf = os.open("leaf.txt", os.O_RDONLY, dir_fd=fd)
            assert os.read(leaf, 100) == b"deep"
            os.close(leaf)
        finally:
            os.close(fd)
        check = fsreplica("verify", src, dst)
        assert check.returncode == 0, check.stdout + check.stderr
        daemon = Daemon(tmp_path, src, dst)
        try:
            daemon.wait_ready()
            (src / "later.txt").write_text("later")
            wait_for((dst / "later.txt").exists, "a live change after the deep scan")
        finally:
            daemon.close()
        assert "Traceback" not in daemon.output()


class TestDirectoryModes:
    """DEST directories are never more open than the source's, under any umask."""

    def test_private_source_directory_stays_private(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        (src / "private" / "inner").mkdir(parents=True)
        (src / "public").mkdir()
        (src / "private" / "secret.txt").write_text("secret")
        (src / "private" / "inner" / "deeper.txt").write_text("deeper")
        (src / "public" / "note.txt").write_text("note")
        os.chmod(src / "private", 0o700)
        os.chmod(src / "private" / "inner", 0o750)
        os.chmod(src / "public", 0o755)
        os.chmod(src, 0o711)
        for path in (src / "private" / "secret.txt", src / "private" / "inner" / "deeper.txt"):
            os.chmod(path, 0o644)
        result = _fsreplica_umask(0, "sync", src, dst, "--state", tmp_path / "s.db")
        assert result.returncode == 0, result.stderr
        assert tree(dst) == tree(src)
        assert _mode(dst / "private") == 0o700
        assert _mode(dst / "private" / "inner") == 0o750
        assert _mode(dst / "public") == 0o755
        assert _mode(dst) == 0o711
        assert _mode(dst / "private" / "secret.txt") == 0o644

    def test_existing_and_changed_directory_modes_are_repaired(self, tmp_path: Path) -> None:
        src, dst, state = tmp_path / "src", tmp_path / "dst", tmp_path / "s.db"
        (src / "private").mkdir(parents=True)
        (src / "later").mkdir()
        (src / "private" / "secret.txt").write_text("secret")
        (src / "later" / "f.txt").write_text("f")
        assert fsreplica("sync", src, dst, "--state", state).returncode == 0
        # As a version that created every directory 0755 left them, and a chmod in SRC since.
        os.chmod(src / "private", 0o700)
        os.chmod(dst / "private", 0o755)
        os.chmod(src / "later", 0o750)
        dry = fsreplica("sync", "--dry-run", src, dst, "--state", state)
        assert dry.returncode == 0, dry.stderr
        assert fsreplica("verify", src, dst).returncode == 0
        assert _mode(dst / "private") == 0o755  # a dry run and verify change nothing
        result = fsreplica("sync", src, dst, "--state", state)
        assert result.returncode == 0, result.stderr
        assert _mode(dst / "private") == 0o700
        assert _mode(dst / "later") == 0o750

    def test_read_only_source_directory_stays_writable_for_its_owner(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        (src / "ro").mkdir(parents=True)
        (src / "ro" / "a.txt").write_text("a")
        (src / "ro" / "b.txt").write_text("b")
        os.chmod(src / "ro", 0o555)
        try:
            result = fsreplica("sync", src, dst, "--state", tmp_path / "s.db")
        finally:
            os.chmod(src / "ro", 0o755)
        assert result.returncode == 0, result.stderr
        assert _mode(dst / "ro") == 0o755
        assert tree(dst) == tree(src)


class TestSparseFiles:
    """A file with holes keeps its holes at DEST."""

    def test_sparse_file_stays_sparse(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        src.mkdir()
        size = 256 * 1024 * 1024
        with open(src / "disk.img", "wb") as f:
            f.write(b"head")
            f.seek(size // 2)
            f.write(b"middle")
            f.truncate(size)
        assert os.stat(src / "disk.img").st_blocks * 512 < 1024 * 1024
        result = fsreplica("sync", src, dst, "--state", tmp_path / "s.db")
        assert result.returncode == 0, result.stderr
        copy = os.stat(dst / "disk.img")
        assert copy.st_size == size
        assert copy.st_blocks * 512 < 1024 * 1024, copy.st_blocks
        with open(dst / "disk.img", "rb") as f:
            assert f.read(4) == b"head"
            f.seek(size // 2)
            assert f.read(6) == b"middle"
        check = fsreplica("verify", src, dst)
        assert check.returncode == 0, check.stdout + check.stderr


def _links(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                out[str(path.relative_to(root))] = os.readlink(path)
    return out


class TestSymlinks:
    """Symlinks: one count line by default; with --links, copied as symlinks, never followed."""

    @staticmethod
    def _source(tmp_path: Path) -> Path:
        src = tmp_path / "src"
        (src / "d").mkdir(parents=True)
        (src / "a.txt").write_text("a")
        (src / "d" / "b.txt").write_text("b")
        (src / "rel").symlink_to("a.txt")
        (src / "abs").symlink_to(tmp_path / "outside" / "victim")
        (src / "d" / "dangling").symlink_to("../nowhere/x")
        (src / "dirlink").symlink_to("d")
        return src

    def test_skipped_symlinks_are_one_count_line(self, tmp_path: Path) -> None:
        src, dst = self._source(tmp_path), tmp_path / "dst"
        for _ in range(2):
            result = fsreplica("sync", src, dst, "--state", tmp_path / "s.db")
            assert result.returncode == 0, result.stderr
            lines = [line for line in result.stderr.splitlines() if "symlink" in line]
            assert lines == [
                "fsreplica: WARNING: 4 symlinks skipped; --links to copy them as symlinks"
            ]
        assert _links(dst) == {}

    def test_links_copies_symlinks_as_symlinks(self, tmp_path: Path) -> None:
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "victim").write_text("do not touch")
        src, dst = self._source(tmp_path), tmp_path / "dst"
        dst.mkdir()
        (dst / "a.txt").symlink_to(outside / "victim")  # a planted link where SRC has a file
        state = tmp_path / "s.db"
        result = fsreplica("sync", "--links", src, dst, "--state", state)
        assert result.returncode == 0, result.stderr
        assert "symlinks skipped" not in result.stderr
        assert _links(dst) == _links(src)
        assert tree(dst) == tree(src)
        assert (dst / "dirlink").is_symlink()  # never a directory written through
        assert (outside / "victim").read_text() == "do not touch"
        # Retarget one, remove one, turn one into a file and a file into a link.
        (src / "rel").unlink()
        (src / "rel").symlink_to("d/b.txt")
        (src / "d" / "dangling").unlink()
        (src / "abs").unlink()
        (src / "abs").write_text("now a file")
        (src / "d" / "b.txt").unlink()
        (src / "d" / "b.txt").symlink_to("../a.txt")
        result = fsreplica("sync", "--links", src, dst, "--state", state)
        assert result.returncode == 0, result.stderr
        assert _links(dst) == _links(src)
        assert tree(dst) == tree(src)
        assert (outside / "victim").read_text() == "do not touch"
        again = fsreplica("sync", "--links", src, dst, "--state", state)
        assert "0 copied" in again.stderr

    def test_replicate_links(self, tmp_path: Path) -> None:
        src, dst = self._source(tmp_path), tmp_path / "dst"
        daemon = Daemon(tmp_path, src, dst, "--links")
        try:
            daemon.wait_ready()
            assert _links(dst) == _links(src)
            assert tree(dst) == tree(src)
            assert daemon.terminate() == 0
        finally:
            daemon.close()
