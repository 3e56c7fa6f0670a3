"""The contract every destination keeps (see conftest.py for how a destination joins)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from fsreplica.destinations import (
    CAPABILITIES,
    LEASE_KEY,
    Destination,
    InvalidKeyError,
    ObjectInfo,
    SourceChangedError,
    SourceFile,
    features_of,
)
from fsreplica.errors import ConditionFailed, DestinationError

MTIME = 1_600_000_000_123_456_789

SourceWriter = Callable[..., str]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(dest: Destination, key: str, path: str) -> ObjectInfo:
    with SourceFile(path) as source:
        return dest.put(key, source)


def keys(dest: Destination, prefix: str = "") -> list[str]:
    return sorted(info.key for info in dest.list(prefix))


def content(dest: Any, key: str) -> bytes:
    return b"".join(dest.read(key))


class TestBasics:
    """Put, stat, list, delete."""

    def test_url_and_capabilities(self, destination: Destination) -> None:
        assert isinstance(destination, Destination)
        assert isinstance(destination.url, str)
        assert destination.url
        features = features_of(destination)
        assert features.names <= CAPABILITIES
        for name in CAPABILITIES:  # a capability is there exactly when its methods are
            methods = {
                "stage": "publish",
                "links": "put_link",
                "conditional": "put_if",
                "versions": "list_versions",
                "fetch": "list_keys",
            }
            method = methods.get(name, name)
            assert (name in features.names) == (getattr(destination, method, None) is not None)

    def test_starts_empty(self, destination: Destination) -> None:
        assert keys(destination) == []

    def test_put_then_stat(self, destination: Destination, source_file: SourceWriter) -> None:
        data = b"hello world\n" * 100
        path = source_file("a.txt", data, mode=0o640, mtime_ns=MTIME)
        info = put(destination, "a.txt", path)
        assert info == ObjectInfo("a.txt", len(data), MTIME, 0o640, sha(data))
        got = destination.stat("a.txt")
        assert (got.key, got.size, got.mtime_ns) == ("a.txt", len(data), MTIME)
        assert got.mode in (None, 0o640)
        assert got.sha256 in (None, sha(data))

    def test_empty_file(self, destination: Destination, source_file: SourceWriter) -> None:
        info = put(destination, "empty", source_file("empty", b""))
        assert info.size == 0
        assert info.sha256 == sha(b"")
        assert destination.stat("empty").size == 0

    def test_large_file(self, destination: Destination, source_file: SourceWriter) -> None:
        data = os.urandom(3 * 1024 * 1024 + 17)
        info = put(destination, "big.bin", source_file("big.bin", data))
        assert info.sha256 == sha(data)
        if features_of(destination).read is not None:
            assert content(destination, "big.bin") == data

    def test_overwrite(self, destination: Destination, source_file: SourceWriter) -> None:
        put(destination, "k", source_file("one", b"first version"))
        put(destination, "k", source_file("two", b"second", mtime_ns=MTIME))
        info = destination.stat("k")
        assert (info.size, info.mtime_ns) == (6, MTIME)
        assert keys(destination) == ["k"]
        if features_of(destination).read is not None:
            assert content(destination, "k") == b"second"

    def test_lists_in_key_order(self, destination: Destination, source_file: SourceWriter) -> None:
        # Not required, but a listing in key order is compared with the source in a stream
        # (replicate/march.py); out of order costs a copy per late key. Every one here keeps it.
        names = ["b", "a.b", "a/x", "a-b", "a0", "a/x.y", "a.c/d", "é", "z/\u4e2d", "a/w/y"]
        path = source_file("one", b"1")
        for key in names:
            put(destination, key, path)
        assert [info.key for info in destination.list()] == sorted(names)
        if (quick_list := features_of(destination).quick_list) is not None:
            assert [info.key for info in quick_list()] == sorted(names)
        assert [info.key for info in destination.list("a/")] == ["a/w/y", "a/x", "a/x.y"]

    def test_nested_and_unusual_keys(
        self, destination: Destination, source_file: SourceWriter
    ) -> None:
        names = ["a/b/c.txt", "a/b/d.txt", "a/e", "space name/ünïcode ✓.txt", "x"]
        for index, key in enumerate(names):
            put(destination, key, source_file(f"f{index}", key.encode()))
        assert keys(destination) == sorted(names)
        assert keys(destination, "a/") == ["a/b/c.txt", "a/b/d.txt", "a/e"]
        assert keys(destination, "a/b") == ["a/b/c.txt", "a/b/d.txt"]
        assert keys(destination, "space") == ["space name/ünïcode ✓.txt"]
        assert keys(destination, "nothing/") == []

    def test_names_that_are_bytes(
        self, destination: Destination, source_file: SourceWriter
    ) -> None:
        # Keys are names as os.fsdecode gives them: any bytes but '/' and NUL.
        names = [
            os.fsdecode(b"bad\xff.txt"),
            os.fsdecode(b"d\xc3/new\nline\x01\x7f"),
            "quote\u201bFF",
            "\u201b\u201b",
            "\ufffe\uffff",
            "back\\slash",
        ]
        for index, key in enumerate(names):
            put(destination, key, source_file(f"f{index}", os.fsencode(key)))
        assert keys(destination) == sorted(names)
        assert keys(destination, os.fsdecode(b"d\xc3/")) == [names[1]]
        for key in names:
            assert destination.stat(key).size == len(os.fsencode(key))
            if features_of(destination).read is not None:
                assert content(destination, key) == os.fsencode(key)
        if (rename := features_of(destination).rename) is not None:
            rename(names[0], names[0] + "\n")
            names[0] += "\n"
            assert keys(destination) == sorted(names)
        for key in names:
            destination.delete(key)
        assert keys(destination) == []

    def test_stat_missing(self, destination: Destination) -> None:
        with pytest.raises(FileNotFoundError):
            destination.stat("missing")
        with pytest.raises(FileNotFoundError):
            destination.stat("no/such/dir/file")

    def test_delete(self, destination: Destination, source_file: SourceWriter) -> None:
        put(destination, "d/one", source_file("one", b"1"))
        put(destination, "d/two", source_file("two", b"2"))
        destination.delete("d/one")
        assert keys(destination) == ["d/two"]
        with pytest.raises(FileNotFoundError):
            destination.stat("d/one")
        destination.delete("d/two")
        assert keys(destination) == []

    def test_delete_missing_is_fine(self, destination: Destination) -> None:
        destination.delete("never/was")
        destination.delete("never")

    def test_file_replaced_by_directory_and_back(
        self, destination: Destination, source_file: SourceWriter
    ) -> None:
        put(destination, "a", source_file("f1", b"file"))
        destination.delete("a")
        put(destination, "a/b", source_file("f2", b"nested"))
        assert keys(destination) == ["a/b"]
        destination.delete("a/b")
        put(destination, "a", source_file("f3", b"file again"))
        assert keys(destination) == ["a"]

    @pytest.mark.parametrize(
        "key", ["", "/abs", "../up", "a/../../b", "a//b", "./a", "a/.", "a/", "nul\0", "\ud800"]
    )
    def test_invalid_keys_refused(
        self, destination: Destination, source_file: SourceWriter, key: str
    ) -> None:
        path = source_file("f", b"x")
        with pytest.raises(InvalidKeyError), SourceFile(path) as source:
            destination.put(key, source)
        with pytest.raises(DestinationError):
            destination.delete(key)
        with pytest.raises(DestinationError):
            destination.stat(key)
        assert keys(destination) == []

    def test_close_is_idempotent(self, destination: Destination) -> None:
        destination.close()
        destination.close()


class TestAtomicity:
    """Nothing half-written is published."""

    def test_source_changed_while_read(
        self, destination: Destination, source_file: SourceWriter
    ) -> None:
        put(destination, "k", source_file("old", b"old content", mtime_ns=MTIME))
        path = source_file("new", b"new content " * 1000)
        with SourceFile(path) as source:
            with open(path, "ab") as f:
                f.write(b"appended while copying")
            with pytest.raises(SourceChangedError):
                destination.put("k", source)
        info = destination.stat("k")
        assert (info.size, info.mtime_ns) == (len(b"old content"), MTIME)
        assert keys(destination) == ["k"]

    def test_source_replaced_while_read(
        self, destination: Destination, source_file: SourceWriter
    ) -> None:
        path = source_file("f", b"original")
        with SourceFile(path) as source:
            other = source_file("g", b"replacement")
            os.replace(other, path)
            with pytest.raises(SourceChangedError):
                destination.put("k", source)
        assert keys(destination) == []

    def test_concurrent_puts_of_distinct_keys(
        self, destination: Destination, source_file: SourceWriter
    ) -> None:
        paths = {f"t/{i % 4}/f{i}": source_file(f"f{i}", str(i).encode() * 100) for i in range(40)}
        errors: list[BaseException] = []

        def worker(items: list[tuple[str, str]]) -> None:
            try:
                for key, path in items:
                    put(destination, key, path)
                    if key.endswith("0"):
                        destination.delete(key)
            except BaseException as exc:
                errors.append(exc)

        items = sorted(paths.items())
        threads = [threading.Thread(target=worker, args=(items[n::4],)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert keys(destination) == sorted(k for k in paths if not k.endswith("0"))


class TestCapabilities:
    """Optional operations, checked when advertised."""

    def test_rename(self, destination: Any, source_file: SourceWriter) -> None:
        if features_of(destination).rename is None:
            pytest.skip("no rename capability")
        data = b"to be moved"
        put(destination, "old/name", source_file("f", data, mtime_ns=MTIME))
        info = destination.rename("old/name", "new/dir/name")
        assert (info.key, info.size, info.mtime_ns) == ("new/dir/name", len(data), MTIME)
        assert info.sha256 in (None, sha(data))
        assert keys(destination) == ["new/dir/name"]
        with pytest.raises(FileNotFoundError):
            destination.rename("old/name", "elsewhere")

    def test_rename_replaces(self, destination: Any, source_file: SourceWriter) -> None:
        if features_of(destination).rename is None:
            pytest.skip("no rename capability")
        put(destination, "a", source_file("a", b"aaa"))
        put(destination, "b", source_file("b", b"bb"))
        destination.rename("a", "b")
        assert keys(destination) == ["b"]
        assert destination.stat("b").size == 3

    def test_copy(self, destination: Any, source_file: SourceWriter) -> None:
        if features_of(destination).copy is None:
            pytest.skip("no copy capability")
        put(destination, "a", source_file("a", b"copied", mtime_ns=MTIME))
        info = destination.copy("a", "c/b")
        assert (info.key, info.size, info.mtime_ns) == ("c/b", 6, MTIME)
        assert keys(destination) == ["a", "c/b"]
        with pytest.raises(FileNotFoundError):
            destination.copy("missing", "x")

    def test_set_metadata(self, destination: Any, source_file: SourceWriter) -> None:
        if features_of(destination).set_metadata is None:
            pytest.skip("no set_metadata capability")
        data = b"same content"
        put(destination, "m", source_file("m", data, mode=0o644))
        info = destination.set_metadata("m", mtime_ns=MTIME, mode=0o600)
        assert (info.size, info.mtime_ns) == (len(data), MTIME)
        assert info.mode in (None, 0o600)
        assert info.sha256 in (None, sha(data))
        assert destination.stat("m").mtime_ns == MTIME
        with pytest.raises(FileNotFoundError):
            destination.set_metadata("missing", mtime_ns=MTIME, mode=None)

    def test_read(self, destination: Any, source_file: SourceWriter) -> None:
        if features_of(destination).read is None:
            pytest.skip("no read capability")
        put(destination, "r/k", source_file("r", b"readable"))
        assert content(destination, "r/k") == b"readable"
        with pytest.raises(FileNotFoundError):
            content(destination, "r/missing")

    def test_fetch(self, destination: Any, source_file: SourceWriter) -> None:
        if features_of(destination).fetch is None:
            pytest.skip("no fetch capability")
        data = b"fetched with its metadata\n" * 50
        put(destination, "f/k", source_file("f", data, mode=0o640, mtime_ns=MTIME))
        put(destination, "f/other", source_file("o", b"o"))
        put(destination, "g", source_file("g", b"gg"))
        assert sorted(destination.list_keys("f/")) == [("f/k", len(data)), ("f/other", 1)]
        info, chunks = destination.fetch("f/k")
        assert info == destination.stat("f/k")
        assert b"".join(chunks) == data
        with pytest.raises(FileNotFoundError):
            destination.fetch("f/missing")


class TestFastPaths:
    """quick_list and stage: the same results as list and put, when advertised."""

    def test_quick_list(self, destination: Any, source_file: SourceWriter) -> None:
        if features_of(destination).quick_list is None:
            pytest.skip("no quick_list capability")
        put(destination, "q/a", source_file("a", b"aaa", mtime_ns=MTIME))
        put(destination, "q/b", source_file("b", b"bb", mtime_ns=MTIME))
        quick = sorted((i.key, i.size, i.mtime_ns) for i in destination.quick_list("q/"))
        full = sorted((i.key, i.size, i.mtime_ns) for i in destination.list("q/"))
        assert quick == full == [("q/a", 3, MTIME), ("q/b", 2, MTIME)]

    def test_stage_publishes_only_when_asked(
        self, destination: Any, source_file: SourceWriter
    ) -> None:
        if features_of(destination).stage is None:
            pytest.skip("no stage capability")
        put(destination, "s/0", source_file("old", b"old"))
        staged = []
        for n in range(3):
            with SourceFile(source_file(f"s{n}", f"new {n}".encode(), mtime_ns=MTIME)) as src:
                staged.append(destination.stage(f"s/{n}", src))
        assert keys(destination) == ["s/0"]
        assert destination.stat("s/0").size == 3
        results = destination.publish(staged)
        assert [(r.key, r.size, r.mtime_ns) for r in results] == [
            (f"s/{n}", 5, MTIME) for n in range(3)
        ]
        assert keys(destination) == ["s/0", "s/1", "s/2"]
        if features_of(destination).read is not None:
            assert content(destination, "s/2") == b"new 2"

    def test_discarded_stage_leaves_nothing(
        self, destination: Any, source_file: SourceWriter
    ) -> None:
        if features_of(destination).stage is None:
            pytest.skip("no stage capability")
        with SourceFile(source_file("d", b"dropped")) as src:
            staged = destination.stage("d/k", src)
        destination.discard(staged)
        destination.discard(staged)
        assert keys(destination) == []


class TestConditional:
    """The "conditional" capability: of two writers from one version, exactly one wins."""

    def test_create_only_if_absent(self, destination: Any) -> None:
        if (cas := features_of(destination).conditional) is None:
            pytest.skip("no conditional capability")
        with pytest.raises(FileNotFoundError):
            cas.read_tag("cas/one")
        tag = cas.put_if("cas/one", b"first", tag=None)
        assert cas.read_tag("cas/one") == (b"first", tag)
        with pytest.raises(ConditionFailed):
            cas.put_if("cas/one", b"second", tag=None)
        assert cas.read_tag("cas/one")[0] == b"first"

    def test_replace_only_the_version_read(self, destination: Any) -> None:
        if (cas := features_of(destination).conditional) is None:
            pytest.skip("no conditional capability")
        first = cas.put_if("cas/two", b"v1", tag=None)
        second = cas.put_if("cas/two", b"v2", tag=first)
        assert second != first
        with pytest.raises(ConditionFailed):
            cas.put_if("cas/two", b"v3", tag=first)  # a stale writer loses
        assert cas.read_tag("cas/two") == (b"v2", second)

    def test_racing_writers_one_wins(self, destination: Any) -> None:
        if (cas := features_of(destination).conditional) is None:
            pytest.skip("no conditional capability")
        tag = cas.put_if("cas/race", b"start", tag=None)
        won: list[int] = []
        start = threading.Barrier(4)

        def writer(n: int) -> None:
            start.wait()
            try:
                cas.put_if("cas/race", f"writer {n}".encode(), tag=tag)
                won.append(n)
            except ConditionFailed:
                pass

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        assert cas.read_tag("cas/race")[0] == f"writer {won[0]}".encode()

    def test_the_lease_is_never_listed(self, destination: Any, source_file: SourceWriter) -> None:
        if (cas := features_of(destination).conditional) is None:
            pytest.skip("no conditional capability")
        put(destination, "a", source_file("a", b"a"))
        cas.put_if(LEASE_KEY, b"{}", tag=None)
        assert keys(destination) == ["a"]
        if (quick_list := features_of(destination).quick_list) is not None:
            assert sorted(i.key for i in quick_list()) == ["a"]
        assert cas.read_tag(LEASE_KEY)[0] == b"{}"
