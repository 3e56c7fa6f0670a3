"""LocalDestination specifics: never writes outside its root, hash in an xattr, temp files."""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

import fsreplica
from fsreplica.destinations import _SCHEMES, SourceFile, open_destination, register_destination
from fsreplica.destinations.local import XATTR_SHA256, LocalDestination
from fsreplica.destinations.memory import MemoryDestination


def put(dest: LocalDestination, key: str, path: Path) -> None:
    with SourceFile(str(path)) as source:
        dest.put(key, source)


@pytest.fixture
def src_file(tmp_path: Path) -> Path:
    path = tmp_path / "source.txt"
    path.write_bytes(b"payload")
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside"
    path.mkdir()
    (path / "victim").write_bytes(b"do not touch")
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


class TestNoEscape:
    """A symlink inside the destination never lets a write or delete escape the root."""

    def test_symlinked_directory_component(
        self, tmp_path: Path, src_file: Path, outside: Path
    ) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        (root / "sub").symlink_to(outside)
        with LocalDestination(root) as dest:
            put(dest, "sub/victim", src_file)
            put(dest, "sub/new", src_file)
            dest.delete("sub/victim")
        assert tree(outside) == {"victim": b"do not touch"}
        assert not (root / "sub").is_symlink()

    def test_symlinked_file_is_replaced_not_followed(
        self, tmp_path: Path, src_file: Path, outside: Path
    ) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        (root / "link").symlink_to(outside / "victim")
        with LocalDestination(root) as dest:
            with pytest.raises(FileNotFoundError):
                dest.stat("link")
            assert [i.key for i in dest.list()] == []
            put(dest, "link", src_file)
            assert (root / "link").read_bytes() == b"payload"
        assert (outside / "victim").read_bytes() == b"do not touch"

    def test_symlink_is_never_deleted_through(self, tmp_path: Path, outside: Path) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        (root / "d").symlink_to(outside)
        with LocalDestination(root) as dest:
            dest.delete("d/victim")
            with pytest.raises(FileNotFoundError):
                dest.rename("d/victim", "stolen")
            assert list(dest.list()) == []
        assert (outside / "victim").exists()


class TestHashes:
    """The content hash is kept in an xattr and reported only while it is current."""

    def test_hash_reported_by_stat_and_list(self, tmp_path: Path, src_file: Path) -> None:
        with LocalDestination(tmp_path / "dest") as dest:
            put(dest, "k", src_file)
            info = dest.stat("k")
            assert info.sha256 is not None
            assert [i.sha256 for i in dest.list()] == [info.sha256]
            assert os.getxattr(tmp_path / "dest" / "k", XATTR_SHA256).startswith(
                info.sha256.encode()
            )

    def test_edited_at_destination_has_no_hash(self, tmp_path: Path, src_file: Path) -> None:
        with LocalDestination(tmp_path / "dest") as dest:
            put(dest, "k", src_file)
            (tmp_path / "dest" / "k").write_bytes(b"changed by someone")
            assert dest.stat("k").sha256 is None


class TestTempFiles:
    """Interrupted puts leave no visible garbage; a listing never removes anything."""

    STALE = ".fsreplica-0123456789abcdef.part"

    def test_listing_never_removes_a_temp_file(self, tmp_path: Path, src_file: Path) -> None:
        root = tmp_path / "dest"
        (root / "a").mkdir(parents=True)
        (root / "a" / self.STALE).write_bytes(b"half")
        with LocalDestination(root, temp_grace=0) as dest:
            put(dest, "a/k", src_file)
            assert [i.key for i in dest.list()] == ["a/k"]
            assert [i.key for i in dest.quick_list()] == ["a/k"]
            assert sorted(os.listdir(root / "a")) == [self.STALE, "k"]

    def test_sweep_removes_what_a_listing_found_abandoned(
        self, tmp_path: Path, src_file: Path
    ) -> None:
        root = tmp_path / "dest"
        (root / "a").mkdir(parents=True)
        (root / "a" / self.STALE).write_bytes(b"half")
        (root / "a" / ".fsreplica-0123-1.part").symlink_to("/nowhere")
        with LocalDestination(root, temp_grace=0) as dest:
            put(dest, "a/k", src_file)
            assert dest.sweep() == 0  # nothing listed yet
            list(dest.quick_list())
            assert dest.sweep() == 2
        assert sorted(os.listdir(root / "a")) == ["k"]

    def test_sweep_keeps_a_fresh_temp_file(self, tmp_path: Path) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        (root / self.STALE).write_bytes(b"just created, not locked yet")
        with LocalDestination(root) as dest:
            list(dest.quick_list())
            assert dest.sweep() == 0
        assert os.listdir(root) == [self.STALE]

    def test_sweep_keeps_a_temp_file_another_process_holds(self, tmp_path: Path) -> None:
        root = tmp_path / "dest"
        root.mkdir()
        temp = root / self.STALE
        temp.write_bytes(b"in flight")
        holder = (
            "import fcntl, os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
        )
        with subprocess.Popen(
            [sys.executable, "-c", holder, str(temp)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            assert proc.stdin is not None
            assert proc.stdout.readline() == "locked\n"
            with LocalDestination(root, temp_grace=0) as dest:
                list(dest.quick_list())
                assert dest.sweep() == 0
                assert temp.exists()
                proc.stdin.close()
                assert proc.wait(10) == 0
                list(dest.quick_list())  # the holder died: now it is abandoned
                assert dest.sweep() == 1
        assert not temp.exists()

    def test_staged_file_survives_another_destinations_sweep(
        self, tmp_path: Path, src_file: Path
    ) -> None:
        root = tmp_path / "dest"
        with (
            LocalDestination(root) as writer,
            LocalDestination(root, temp_grace=0) as other,
            SourceFile(str(src_file)) as source,
        ):
            staged = writer.stage("k", source)
            list(other.quick_list())
            assert other.sweep() == 0
            [info] = writer.publish([staged])
            assert isinstance(info, fsreplica.ObjectInfo)
        assert os.listdir(root) == ["k"]

    def test_a_lost_temp_file_is_retryable(self, tmp_path: Path, src_file: Path) -> None:
        root = tmp_path / "dest"
        with LocalDestination(root) as dest, SourceFile(str(src_file)) as source:
            staged = dest.stage("k", source)
            os.unlink(root / staged.tmp)  # as an older fsreplica's listing did
            [result] = dest.publish([staged])
            assert isinstance(result, fsreplica.DestinationError)
            assert result.retryable
        assert os.listdir(root) == []

    def test_failed_put_leaves_nothing(self, tmp_path: Path, src_file: Path) -> None:
        root = tmp_path / "dest"
        with LocalDestination(root) as dest, SourceFile(str(src_file)) as source:
            src_file.write_bytes(b"changed")
            with pytest.raises(fsreplica.FsreplicaError):
                dest.put("k", source)
        assert os.listdir(root) == []


class TestNoLeak:
    """Nothing per put stays behind: memory is flat in a day-long run."""

    def _ops(self, dest: LocalDestination, src_file: Path, n: int) -> None:
        for i in range(n):
            key = f"d{i % 3}/k{i % 50}"
            with SourceFile(str(src_file)) as source:
                if i % 4 == 0:
                    dest.put(key, source)
                elif i % 4 == 1:
                    dest.discard(dest.stage(key, source))
                elif i % 4 == 2:
                    staged = dest.stage(key, source)
                    os.unlink(os.path.join(dest.root, key.rpartition("/")[0], staged.tmp))
                    dest.publish([staged])  # fails: its temporary file is gone
                else:
                    dest.publish([dest.stage(key, source), dest.stage(key + "b", source)])

    def test_memory_is_flat_over_many_puts(self, tmp_path: Path, src_file: Path) -> None:
        local_py = sys.modules[LocalDestination.__module__].__file__
        assert local_py is not None
        only_local = [tracemalloc.Filter(True, local_py)]
        with LocalDestination(tmp_path / "dest") as dest:
            self._ops(dest, src_file, 40)  # warm up: buffers, directories
            tracemalloc.start()
            try:
                gc.collect()
                before = tracemalloc.take_snapshot().filter_traces(only_local)
                self._ops(dest, src_file, 2000)
                gc.collect()  # failed puts' exceptions are in reference cycles with their frames
                after = tracemalloc.take_snapshot().filter_traces(only_local)
            finally:
                tracemalloc.stop()
            grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
            assert grown < 4096, [str(s) for s in after.compare_to(before, "lineno")[:5]]
            assert not getattr(dest, "_inflight", None)
        names = {name for _, _, files in os.walk(tmp_path / "dest") for name in files}
        assert not [name for name in names if name.endswith(".part")]


class TestCopyBuffer:
    """A worker's copy buffer fits the files it copies: small while they are small."""

    def test_small_then_large_then_small(self, tmp_path: Path) -> None:
        sizes = {"a": 10, "b": 3 * 1024 * 1024 + 5, "c": 70_000, "d": 0}
        with LocalDestination(tmp_path / "dest") as dest:
            for key, size in sizes.items():
                data = os.urandom(size)
                (tmp_path / key).write_bytes(data)
                put(dest, key, tmp_path / key)
                assert (tmp_path / "dest" / key).read_bytes() == data
                if key == "a":
                    assert len(dest._buffers.buffer) < 1024 * 1024  # a small file, a small buffer


class TestOpenDestination:
    """URL scheme registry."""

    def test_paths_and_file_urls(self, tmp_path: Path) -> None:
        for target in (str(tmp_path / "p"), f"file://{tmp_path}/u", tmp_path / "q"):
            dest = open_destination(target)
            assert isinstance(dest, LocalDestination)
            dest.close()
        assert fsreplica.open_destination is open_destination

    def test_memory(self) -> None:
        assert isinstance(open_destination("memory://x"), MemoryDestination)

    def test_unknown_scheme(self) -> None:
        with pytest.raises(ValueError, match="unknown destination scheme"):
            open_destination("gopher://host/x")

    def test_missing_extra_names_it(self) -> None:
        register_destination("nope", "fsreplica_missing_module:X", extra="nope")
        try:
            with pytest.raises(ImportError, match=r"fsreplica\[nope\]"):
                open_destination("nope://x")
        finally:
            _SCHEMES.pop("nope")


class TestHoles:
    """A file with holes is copied byte for byte, its holes kept."""

    @pytest.mark.parametrize("seed", range(8))
    def test_random_layouts(self, tmp_path: Path, seed: int) -> None:
        rng = random.Random(seed)
        block = 4096
        size = rng.randrange(1, 64) * 256 * 1024 + rng.randrange(block)
        path = tmp_path / "sparse"
        with open(path, "wb") as f:
            for _ in range(rng.randrange(1, 6)):
                offset = rng.randrange(size)
                f.seek(offset)
                f.write(os.urandom(min(rng.randrange(1, 3 * 1024 * 1024), size - offset)))
            f.truncate(size)
        with LocalDestination(tmp_path / "dest") as dest:
            put(dest, "k", path)
            assert dest.stat("k").sha256 is not None
        copy = tmp_path / "dest" / "k"
        assert copy.read_bytes() == path.read_bytes()
        assert copy.stat().st_blocks <= path.stat().st_blocks + 2 * block // 512
