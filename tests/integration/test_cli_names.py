"""Names that are bytes, not text: `sync`, `replicate`, `verify` and `status` to a local DEST.

On POSIX a file name is any bytes but '/' and NUL. Every such name reaches a local DEST byte for
byte, and a name that something cannot handle fails alone, never its neighbours.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from byte_names import BAD, byte_tree, examples, trees, u8_tree, write
from hypothesis import given
from test_cli_replicate_helpers import Daemon, fsreplica, wait_for

NO_EXCLUDES = "--no-default-excludes"


class TestSync:
    """The issue's reproduction, and arbitrary names, through `sync` and `verify`."""

    def test_a_name_that_is_not_utf8_is_copied_with_its_neighbours(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "u8", tmp_path / "u8-dst"
        files = u8_tree(src)
        state = ["--state", tmp_path / "state.db"]
        done = fsreplica("sync", src, dst, *state)
        assert (done.returncode, "Traceback" in done.stderr) == (0, False), done.stderr
        assert "9 copied" in done.stderr
        assert byte_tree(dst) == files
        assert os.fsencode(dst / os.fsdecode(BAD)) in [
            os.path.join(os.fsencode(dst), name) for name in os.listdir(os.fsencode(dst))
        ]
        done = fsreplica("verify", src, dst)
        assert done.returncode == 0, done.stdout + done.stderr
        done = fsreplica("sync", src, dst, *state)
        assert done.returncode == 0, done.stderr
        assert "0 copied" in done.stderr
        assert "9 unchanged" in done.stderr
        status = fsreplica("status", *state)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "files replicated: 9" in status.stdout

    def test_names_are_shown_on_one_line(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        write(src, {b"new\nline\xff.txt": b"x", b"ok.txt": b"y"})
        os.mkfifo(os.path.join(os.fsencode(src), b"fi\nfo"))
        done = fsreplica("sync", src, dst, "--state", tmp_path / "state.db", "-v")
        assert done.returncode == 0, done.stderr
        lines = done.stderr.splitlines()
        assert "fsreplica: INFO: put new\\nline\\xff.txt (1 bytes)" in lines
        assert f"fsreplica: WARNING: skip {src}/fi\\nfo: not a regular file (fifo)" in lines
        (dst / os.fsdecode(b"new\nline\xff.txt")).write_bytes(b"z")
        done = fsreplica("verify", src, dst)
        assert done.returncode == 1
        assert done.stdout.splitlines() == ["content: new\\nline\\xff.txt"]

    def test_a_non_utf8_source_directory(self, tmp_path: Path) -> None:
        src, dst = tmp_path / os.fsdecode(b"src\xfe\n"), tmp_path / "dst"
        files = u8_tree(src)
        env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / os.fsdecode(b"state?#%\xff"))}
        done = fsreplica("sync", src, dst, env=env)
        assert done.returncode == 0, done.stderr
        assert byte_tree(dst) == files
        status = fsreplica("status", src, dst, env=env)
        assert status.returncode == 0, status.stderr
        assert f"source: {tmp_path}/src\\xfe\\n" in status.stdout.splitlines()

    def test_arbitrary_byte_names(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        state = ["--state", tmp_path / "state.db"]
        count = itertools.count()

        @examples(8)
        @given(files=trees())
        def example(files: dict[bytes, bytes]) -> None:
            sub = f"ex{next(count)}"
            write(src / sub, files)
            done = fsreplica("sync", src, dst, *state, NO_EXCLUDES)
            assert done.returncode == 0, done.stderr
            assert byte_tree(dst / sub) == files

        example()
        done = fsreplica("verify", src, dst, NO_EXCLUDES)
        assert done.returncode == 0, done.stdout + done.stderr


class TestReplicate:
    """A name that is not UTF-8, created while replicating, and every file after it."""

    def test_later_files_are_replicated_after_a_bad_name(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        src.mkdir()
        daemon = Daemon(tmp_path, src, dst)
        try:
            daemon.wait_ready()
            write(src, {BAD: b"x"})
            wait_for(lambda: byte_tree(dst) == {BAD: b"x"}, "the bad name at DEST")
            write(src, {b"later.txt": b"later"})
            wait_for(lambda: b"later.txt" in byte_tree(dst), "a later file at DEST")
            status = fsreplica("status", "--state", daemon.state)
            assert "failed: 0" in status.stdout, status.stdout
            assert daemon.proc.poll() is None, daemon.output()
            daemon.terminate()
            assert "Traceback" not in daemon.output()
        finally:
            daemon.close()

    def test_arbitrary_byte_names(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        src.mkdir()
        count = itertools.count()
        daemon = Daemon(tmp_path, src, dst, NO_EXCLUDES)
        try:
            daemon.wait_ready()

            @examples(10)
            @given(files=trees())
            def example(files: dict[bytes, bytes]) -> None:
                sub = f"ex{next(count)}"
                write(src / sub, files)
                wait_for(lambda: byte_tree(dst / sub) == files, f"{files} at DEST")

            example()
            assert daemon.proc.poll() is None, daemon.output()
            daemon.terminate()
        finally:
            daemon.close()
        done = fsreplica("verify", src, dst, NO_EXCLUDES)
        assert done.returncode == 0, done.stdout + done.stderr
