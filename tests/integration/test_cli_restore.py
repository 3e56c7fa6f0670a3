"""`fsreplica restore` from a local DEST: round trips, refusals, partial restores, --verify."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from byte_names import examples, trees
from hypothesis import given
from restore_trees import FSREPLICA, MTIME, fsreplica, mixed_tree, snapshot, sync, write_tree
from test_cli_replicate_helpers import wait_for

from fsreplica.cli._progress import REFRESH

RESTORE_MARKER = ".fsreplica-restore"


def replica(tmp_path: Path, files: dict[bytes, bytes] | None = None) -> tuple[Path, Path]:
    """A source tree synced to a local DEST: (source, dest)."""
    source, dest = tmp_path / "src", tmp_path / "dest"
    source.mkdir()
    if files is None:
        mixed_tree(source)
    else:
        write_tree(source, files)
    sync(source, dest, state=tmp_path / "state.db")
    return source, dest


class TestRoundTrip:
    """Sync, restore into an empty directory: the same tree, byte for byte."""

    def test_names_modes_mtimes(self, tmp_path: Path) -> None:
        source, dest = replica(tmp_path)
        done = fsreplica("restore", dest, tmp_path / "out")
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)
        assert done.stderr.startswith("fsreplica: 9 restored (")
        assert not (tmp_path / "out" / RESTORE_MARKER).exists()

    def test_into_an_existing_empty_directory(self, tmp_path: Path) -> None:
        source, dest = replica(tmp_path, {b"one": b"1", b"d/two": b"22"})
        (tmp_path / "out").mkdir()
        done = fsreplica("restore", f"file://{dest}", tmp_path / "out")
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)

    def test_symlinks_stored_by_links_come_back_as_symlinks(self, tmp_path: Path) -> None:
        source = tmp_path / "src"
        outside = tmp_path / "outside"
        outside.mkdir()
        write_tree(source, {b"f": b"data", b"d/g": b"more"})
        (source / "rel").symlink_to("d/g")
        (source / "escape").symlink_to(outside)  # a link to a directory outside the tree
        (source / "d" / "dangling").symlink_to("/nonexistent/../x")
        sync(source, tmp_path / "dest", "--links", state=tmp_path / "state.db")
        done = fsreplica("restore", tmp_path / "dest", tmp_path / "out")
        assert done.returncode == 0, done.stderr
        assert snapshot(tmp_path / "out") == snapshot(source)
        assert os.readlink(tmp_path / "out" / "escape") == str(outside)
        assert list(outside.iterdir()) == []
        without = fsreplica("restore", tmp_path / "dest", tmp_path / "out2", "--no-links")
        assert without.returncode == 0, without.stderr
        assert sorted(os.listdir(tmp_path / "out2")) == ["d", "f"]


class TestTarget:
    """What TARGET_DIR may hold, and what becomes of it."""

    def test_refuses_a_non_empty_target(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"a": b"new"})
        out = tmp_path / "out"
        out.mkdir()
        (out / "mine").write_bytes(b"keep me")
        done = fsreplica("restore", dest, out)
        assert (done.returncode, done.stderr) == (
            2,
            f"fsreplica: restore {out}: not empty (--force to restore into it)\n",
        )
        assert sorted(os.listdir(out)) == ["mine"]
        forced = fsreplica("restore", dest, out, "--force")
        assert forced.returncode == 0, forced.stderr
        assert sorted(os.listdir(out)) == ["a", "mine"]

    def test_target_that_is_a_file_or_source_missing(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"a": b"1"})
        (tmp_path / "file").write_bytes(b"")
        done = fsreplica("restore", dest, tmp_path / "file")
        assert (done.returncode, done.stderr) == (
            2,
            f"fsreplica: restore {tmp_path / 'file'}: not a directory\n",
        )
        done = fsreplica("restore", tmp_path / "nothing", tmp_path / "out")
        assert (done.returncode, done.stderr) == (
            2,
            f"fsreplica: {tmp_path / 'nothing'}: no such directory\n",
        )
        assert not (tmp_path / "nothing").exists()
        assert not (tmp_path / "out").exists()

    def test_overwrite_policies(self, tmp_path: Path) -> None:
        source, dest = replica(tmp_path, {b"same": b"s", b"changed": b"new", b"chmod": b"c"})
        out = tmp_path / "out"
        assert fsreplica("restore", dest, out).returncode == 0
        (out / "changed").write_bytes(b"old")
        (out / "chmod").chmod(0o604)
        (out / "extra").write_bytes(b"mine")
        before = snapshot(out)

        kept = fsreplica("restore", dest, out, "--force", "--overwrite", "never")
        assert kept.returncode == 0, kept.stderr
        assert snapshot(out) == before
        assert "0 restored (0 B), 0 unchanged, 3 kept" in kept.stderr

        changed = fsreplica("restore", dest, out, "--force")  # if-changed
        assert changed.returncode == 0, changed.stderr
        assert "1 restored (3 B), 1 with mode or mtime fixed, 1 unchanged" in changed.stderr
        expected = snapshot(source)
        expected[b"extra"] = before[b"extra"]  # a restore never deletes
        assert snapshot(out) == expected

        inode = (out / "same").stat().st_ino
        always = fsreplica("restore", dest, out, "--force", "--overwrite", "always")
        assert always.returncode == 0, always.stderr
        assert "3 restored" in always.stderr
        assert (out / "same").stat().st_ino != inode
        assert snapshot(out) == expected

    def test_a_symlink_in_the_target_is_never_followed(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"d/x": b"secret", b"top": b"t", b"link": b"l"})
        outside = tmp_path / "outside"
        outside.mkdir()
        out = tmp_path / "out"
        out.mkdir()
        (out / "d").symlink_to(outside)
        (out / "link").symlink_to(outside / "victim")
        done = fsreplica("restore", dest, out, "--force")
        assert done.returncode == 1
        lines = done.stderr.splitlines()
        assert lines[0] == "fsreplica: restore d/x: d is a symlink in the target (never followed)"
        assert lines[1].startswith("fsreplica: 2 restored")
        assert list(outside.iterdir()) == []
        assert (out / "top").read_bytes() == b"t"
        # The symlink `link` was replaced by the file, never written through.
        assert not (out / "link").is_symlink()
        assert (out / "link").read_bytes() == b"l"

    def test_a_directory_in_the_way(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"a": b"1", b"b": b"2"})
        out = tmp_path / "out"
        (out / "a").mkdir(parents=True)
        done = fsreplica("restore", dest, out, "--force")
        assert done.returncode == 1
        assert done.stderr.splitlines()[0] == (
            "fsreplica: restore a: a directory is in the way in the target"
        )
        assert (out / "b").read_bytes() == b"2"


class TestPartial:
    """--prefix, --include, --exclude, and a SRC_URL below the replica's root."""

    FILES = {b"docs/a.txt": b"a", b"docs/b.md": b"b", b"src/c.txt": b"c", b"top.txt": b"t"}

    def restored(self, tmp_path: Path, *args: str | Path) -> list[str]:
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        done = fsreplica("restore", *args, out)
        assert done.returncode == 0, done.stderr
        return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())

    def test_selections(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, self.FILES)
        assert self.restored(tmp_path, dest, "--prefix", "docs/") == ["docs/a.txt", "docs/b.md"]
        assert self.restored(tmp_path, dest, "--include", "*.txt") == [
            "docs/a.txt",
            "src/c.txt",
            "top.txt",
        ]
        assert self.restored(tmp_path, dest, "--include", "docs", "--exclude", "*.md") == [
            "docs/a.txt"
        ]
        assert self.restored(tmp_path, dest / "docs") == ["a.txt", "b.md"]


class TestDryRun:
    """--dry-run decides everything and changes nothing."""

    def test_changes_nothing(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"a": b"1", b"b": b"2", b"d/c": b"3"})
        done = fsreplica("restore", dest, tmp_path / "out", "--dry-run")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "create: a\ncreate: b\ncreate: d/c\n"
        assert not (tmp_path / "out").exists()

        out = tmp_path / "out"
        assert fsreplica("restore", dest, out).returncode == 0
        (out / "a").write_bytes(b"changed")
        os.utime(out / "b", ns=(MTIME, MTIME))
        before = snapshot(out)
        done = fsreplica("restore", dest, out, "--dry-run", "--force")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "replace: a\nmetadata: b\n"
        assert done.stderr == (
            "fsreplica: dry run: 0 to create, 1 to replace, 1 to metadata, 0 to keep, "
            "1 unchanged, 0 refused\n"
        )
        assert snapshot(out) == before


class TestVerify:
    """The content fetched is checked against the SHA-256 the store recorded."""

    def test_catches_a_corrupted_object(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"good": b"fine", b"bad": b"original"})
        st = (dest / "bad").stat()
        with open(dest / "bad", "r+b") as f:  # same size, same mtime: only the bytes differ
            f.write(b"ORIGINAL")
        os.utime(dest / "bad", ns=(st.st_atime_ns, st.st_mtime_ns))
        out = tmp_path / "out"
        done = fsreplica("restore", dest, out, "--verify")
        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "fsreplica: restore bad: content does not match the sha256 the store recorded",
            "fsreplica: 1 restored (4 B), 0 unchanged, 1 verified, 1 failed",
        ]
        assert sorted(os.listdir(out)) == [RESTORE_MARKER, "good"]

    def test_checks_files_in_place(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"f": b"content"})
        out = tmp_path / "out"
        assert fsreplica("restore", dest, out).returncode == 0
        done = fsreplica("restore", dest, out, "--force", "--verify", "--overwrite", "never")
        assert done.returncode == 0, done.stderr


class TestAt:
    """--at needs a destination that keeps versions."""

    def test_refused_on_a_local_destination(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, {b"a": b"1"})
        done = fsreplica("restore", dest, tmp_path / "out", "--at", "2026-01-01T00:00:00Z")
        assert (done.returncode, done.stderr) == (
            2,
            f"fsreplica: restore {dest}: --at: this destination keeps no earlier versions\n",
        )
        assert not (tmp_path / "out").exists()
        bad = fsreplica("restore", dest, tmp_path / "out", "--at", "yesterday")
        assert bad.returncode == 2
        assert "is not a time" in bad.stderr


def many_files(count: int, *, big: int = 0) -> dict[bytes, bytes]:
    """`count` small files in 100 directories, plus `big` of 2 MiB."""
    files = {f"d{i % 100:02d}/f{i:05d}".encode(): b"x" * (i % 300) for i in range(count)}
    files.update({f"big{i}".encode(): os.urandom(2 * 1024 * 1024) for i in range(big)})
    return files


class TestInterrupted:
    """A restore killed mid-way leaves no half file under a final name and resumes."""

    def test_sigkill_then_run_again(self, tmp_path: Path) -> None:
        source, dest = replica(tmp_path, many_files(2000, big=4))
        out = tmp_path / "out"
        args = [*FSREPLICA, "restore", str(dest), str(out), "--transfers", "2"]
        with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            wait_for(lambda: len(list(out.glob("d*/f*"))) >= 200, "some files restored")
            proc.kill()
        killed = snapshot(out)
        expected = snapshot(source)
        assert 0 < len(killed) < len(expected)
        for rel, entry in killed.items():  # every final name holds a whole file, as stored
            name = os.path.basename(rel)
            assert (
                name == RESTORE_MARKER.encode()
                or name.startswith(b".fsreplica-restore-")
                or (entry == expected[rel])
            ), rel
        again = fsreplica("restore", dest, out)  # no --force: an interrupted restore resumes
        assert again.returncode == 0, again.stderr
        complete = [rel for rel in killed if rel in expected]
        assert again.stderr.startswith(f"fsreplica: {len(expected) - len(complete)} restored")
        assert snapshot(out) == expected

    @pytest.mark.slow
    def test_ten_thousand_files(self, tmp_path: Path) -> None:
        source = tmp_path / "src"
        for i in range(10_000):  # written plainly: the tree's size is the point here
            path = source / f"d{i % 100:02d}" / f"f{i:05d}"
            if i < 100:
                path.parent.mkdir(parents=True)
            path.write_bytes(b"x" * (i % 300))
            if i % 97 == 0:
                path.chmod(0o600)
                os.utime(path, ns=(MTIME + i, MTIME + i))
        sync(source, tmp_path / "dest", state=tmp_path / "state.db")
        done = fsreplica("restore", tmp_path / "dest", tmp_path / "out")
        assert done.returncode == 0, done.stderr
        assert done.stderr.startswith("fsreplica: 10000 restored")
        assert snapshot(tmp_path / "out") == snapshot(source)


class TestSignals:
    """SIGINT stops a restore cleanly: exit 130, and the same command resumes it."""

    def test_sigint_then_resume(self, tmp_path: Path) -> None:
        source, dest = replica(tmp_path, many_files(3000))
        out = tmp_path / "out"
        args = [*FSREPLICA, "restore", str(dest), str(out), "--transfers", "1"]
        with subprocess.Popen(args, stderr=subprocess.PIPE, text=True) as proc:
            wait_for(lambda: len(list(out.glob("d*/f*"))) >= 100, "some files restored")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=25)
        if proc.returncode == 0:
            pytest.skip("the restore finished before the signal arrived")
        assert proc.returncode == 130, err
        assert err.startswith("fsreplica: interrupted by SIGINT: "), err
        assert (out / RESTORE_MARKER).exists()
        again = fsreplica("restore", dest, out)
        assert again.returncode == 0, again.stderr
        assert snapshot(out) == snapshot(source)


class TestProgress:
    """On a terminal, a progress line is drawn while files arrive, and erased at the end."""

    def test_progress_on_a_tty(self, tmp_path: Path) -> None:
        _, dest = replica(tmp_path, many_files(600))
        master, slave = pty.openpty()
        try:
            args = [*FSREPLICA, "restore", str(dest), str(tmp_path / "out"), "--transfers", "1"]
            started = time.monotonic()
            with subprocess.Popen(args, stderr=slave, stdout=subprocess.DEVNULL) as proc:
                os.close(slave)
                slave = -1
                shown = b""
                while True:
                    ready, _, _ = select.select([master], [], [], 25)
                    if not ready:
                        break
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: the child closed the terminal
                        break
                    if not data:
                        break
                    shown += data
                assert proc.wait(timeout=25) == 0
            elapsed = time.monotonic() - started
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)
        text = shown.decode()
        assert text.rstrip().endswith("600 restored (87.6 KiB), 0 unchanged, 0 failed"), text
        if elapsed < 2 * REFRESH:
            pytest.skip("the restore was over before the first redraw")
        assert "/600 files, " in text, text
        assert "\r\x1b[K" in text


class TestByteNames:
    """Any name the file system allows comes back byte for byte."""

    @given(files=trees())
    @examples(6)
    def test_arbitrary_names(self, files: dict[bytes, bytes]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            source, dest = replica(Path(tmp), files)
            done = fsreplica("restore", dest, Path(tmp) / "out")
            assert done.returncode == 0, done.stderr
            assert snapshot(Path(tmp) / "out") == snapshot(source)
