"""The streaming reconcile: three sides in key order, compared a window at a time."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from fsreplica._names import in_key_order, to_key
from fsreplica.destinations import ObjectInfo, SourceFile
from fsreplica.destinations.local import LocalDestination
from fsreplica.destinations.memory import MemoryDestination
from fsreplica.filters import IgnoreRules
from fsreplica.replicate import Replicator
from fsreplica.replicate.engine import Mode, Task
from fsreplica.replicate.march import Plan, march
from fsreplica.replicate.reconcile import SourceTree, scan_source
from fsreplica.replicate.state import FileRecord, State, sql_key

SIZE, MTIME, CTIME, INODE, MODE = 10, 2_000, 3_000, 7, 0o644
NO_RULES = IgnoreRules(())


def st() -> os.stat_result:
    """A regular file's stat as the source walk gives it."""
    return os.stat_result(
        (0o100000 | MODE, INODE, 1, 1, 0, 0, SIZE, 0, 0, 0),
        {"st_atime_ns": 0, "st_mtime_ns": MTIME, "st_ctime_ns": CTIME},
    )


def info(key: str, *, link: str | None = None) -> ObjectInfo:
    return ObjectInfo(key, SIZE, MTIME, MODE, "aa", link)


def rec(key: str) -> FileRecord:
    return FileRecord(key, SIZE, MTIME, CTIME, INODE, MODE, "aa", MTIME)


def run(
    source: Iterable[tuple[str, os.stat_result | str]],
    dest: Iterable[ObjectInfo],
    records: Iterable[FileRecord] = (),
    *,
    present: Iterable[str] = (),
    max_delete: int | None = None,
    **options: object,
) -> tuple[Plan, list[Task]]:
    """March with tasks handed on as they are decided; return the plan and the tasks."""
    submitted: list[Task] = []
    known = set(present)
    plan = march(
        source,
        dest,
        records,
        tree=SourceTree(),
        rules=NO_RULES,
        delete=True,
        max_delete=max_delete,
        present=known.__contains__,
        submit=submitted.extend,
        **options,  # type: ignore[arg-type]
    )
    return plan, submitted


class Counted:
    """An iterator that counts what was taken from it."""

    def __init__(self, items: Iterable[tuple[str, os.stat_result | str]]) -> None:
        self._items = iter(items)
        self.taken = 0

    def __iter__(self) -> Iterator[tuple[str, os.stat_result | str]]:
        return self

    def __next__(self) -> tuple[str, os.stat_result | str]:
        item = next(self._items)
        self.taken += 1
        return item


class TestStream:
    """Work is handed on while the sides are read, a window ahead at most."""

    def test_tasks_are_handed_on_while_the_source_is_read(self) -> None:
        keys = [f"k{i:04d}" for i in range(1000)]
        source = Counted((key, st()) for key in keys)
        read_when: list[int] = []

        def submit(tasks: list[Task]) -> None:
            read_when.extend([source.taken] * len(tasks))

        march(
            source,
            [],
            [],
            tree=SourceTree(),
            rules=NO_RULES,
            delete=True,
            max_delete=None,
            present=lambda key: False,
            submit=submit,
            window=50,
        )
        assert len(read_when) == 1000
        # Each task is handed on with at most two windows of the source read past it.
        assert all(read - done <= 100 for done, read in enumerate(read_when, 1))

    def test_deletes_wait_for_the_whole_destination(self) -> None:
        # The first windows find only keys to delete; the guard must judge them against the
        # whole destination (4 of 10: allowed), never against what was read so far.
        dest = [info(f"a{i}") for i in range(4)] + [info(f"b{i}") for i in range(6)]
        source = [(f"b{i}", st()) for i in range(6)]
        records = [rec(i.key) for i in dest]
        plan, tasks = run(source, dest, records, window=2)
        assert tasks == []
        assert plan.deletes == ["a0", "a1", "a2", "a3"]
        assert (plan.unchanged, plan.source_count, plan.dest_count) == (6, 6, 10)
        plan, _ = run(source[:4], dest, records, window=2)  # 6 of 10: refused
        assert plan.refused is not None
        assert plan.deletes == []

    def test_stopped_early_deletes_and_forgets_nothing(self) -> None:
        windows = 0

        def stopped() -> bool:
            nonlocal windows
            windows += 1
            return windows > 2

        dest = [info(f"k{i:03d}") for i in range(100)]
        plan, tasks = run([], dest, [rec("gone")], window=10, stopped=stopped)
        assert not plan.complete
        assert (plan.deletes, plan.forget, tasks) == ([], [], [])


class TestOrder:
    """Each side sorts names its own way; the result never depends on it."""

    NAMES = [
        "a",
        "a.b",
        "a-b",
        "a0",
        "a/x",
        "a/x.y",
        "a.b/c",
        "é",
        "z\u201bq",  # the quote of store keys
        "ctl\x01",
        "ctl\x01/x",
        os.fsdecode(b"bad\xff"),
        os.fsdecode(b"bad\xff/x"),
        "\u4e2d",
    ]

    def test_names_sorted_differently_by_each_side_are_matched(self) -> None:
        names = [n for n in self.NAMES if not any(o.startswith(n + "/") for o in self.NAMES)]
        source = [(key, st()) for key in sorted(names, key=os.fsencode)]
        dest = [info(key) for key in sorted(names, key=lambda k: to_key(k).encode())]
        stored = sorted(names, key=lambda k: (isinstance(sql_key(k), bytes), os.fsencode(k)))
        plan, tasks = run(source, dest, [rec(key) for key in stored], window=2)
        assert tasks == []
        assert (plan.unchanged, plan.deletes, plan.forget) == (len(names), [], [])

    def test_a_destination_listed_out_of_order(self) -> None:
        # Each late key is looked up in the source as it is now: copied again when the source
        # has it (it was decided without its counterpart), deleted when it does not.
        keys = [f"k{i:02d}" for i in range(20)]
        source = [(key, st()) for key in keys[:15]]
        dest = [info(key) for key in reversed(keys)]
        plan, tasks = run(source, dest, [rec(k) for k in keys], present=keys[:15], window=4)
        assert plan.deletes == keys[15:]
        assert {t.key for t in tasks} | set(keys[15:]) == set(keys)
        assert all(t.mode is Mode.FORCE for t in tasks)
        assert plan.unchanged + len(tasks) == 15
        assert plan.dest_count == 20

    def test_a_source_key_out_of_order_is_copied_not_deleted(self) -> None:
        # A file replaced by a directory while the walk listed its parent: its keys come late.
        source = [("a", st()), ("c", st()), ("b/x", st())]
        dest = [info("a"), info("b/x"), info("c")]
        plan, tasks = run(source, dest, [rec("a"), rec("b/x"), rec("c")], window=1)
        assert plan.deletes == []
        assert [(t.key, t.mode) for t in tasks] == [("b/x", Mode.FORCE)]
        assert (plan.unchanged, plan.source_count) == (2, 3)

    def test_in_key_order_is_the_order_of_every_side(self) -> None:
        names = [n for n in self.NAMES if in_key_order(n)]
        by_str = sorted(names)
        assert by_str == sorted(names, key=os.fsencode)
        assert by_str == sorted(names, key=lambda k: to_key(k).encode())
        assert not in_key_order("ctl\x01")
        assert not in_key_order(os.fsdecode(b"bad\xff"))
        assert not in_key_order("z\u201bq")


class TestLinks:
    """Symlinks, when copied, are compared by their target text."""

    def test_link_rows(self) -> None:
        source = [("same", "t"), ("other", "new"), ("file", st()), ("fresh", "t")]
        dest = [
            info("file"),
            info("gone", link="t"),
            info("other", link="old"),
            info("same", link="t"),
            info("x", link="t"),
            info("y", link="t"),
        ]
        plan, tasks = run(
            sorted(source), dest, [rec("file")], links=True, present=["same", "other", "file"]
        )
        assert {t.key: t.mode for t in tasks} == {"other": Mode.FORCE, "fresh": Mode.FORCE}
        assert plan.unchanged == 2
        assert plan.deletes == ["gone", "x", "y"]
        assert (plan.source_count, plan.dest_count) == (4, 6)


class TestSides:
    """The walks and the state yield their keys in the order the march needs."""

    def test_source_walk_and_local_listing_agree_in_key_order(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        rnd = random.Random(7)
        names = [
            n for n in TestOrder.NAMES if not any(o.startswith(n + "/") for o in TestOrder.NAMES)
        ]
        names += [f"d{rnd.randrange(5)}/{rnd.choice('ab-.0_')}{i}" for i in range(60)]
        for root in (src, dst):
            for name in names:
                path = os.path.join(os.fsencode(root), os.fsencode(name))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(b"x")
        walked = [key for key, _ in scan_source(str(src), NO_RULES, tree=SourceTree())]
        with LocalDestination(str(dst)) as dest:
            listed = [i.key for i in dest.quick_list()]
            assert [i.key for i in dest.list()] == listed
        assert walked == listed
        assert sorted(walked) == sorted(names)
        assert walked == sorted(walked, key=os.fsencode)

    def test_a_directory_swapped_for_a_symlink_mid_walk_is_not_followed(
        self, tmp_path: Path
    ) -> None:
        # The root is listed first and `b/` opened only when the walk reaches it: replaced by a
        # symlink in between, it must not lead the walk out of the source.
        src, outside = tmp_path / "src", tmp_path / "outside"
        (src / "b").mkdir(parents=True)
        (src / "a.txt").write_text("a")
        (src / "b" / "x.txt").write_text("x")
        (src / "c.txt").write_text("c")
        outside.mkdir()
        (outside / "secret.txt").write_text("never replicated")
        tree = SourceTree()
        walk = scan_source(str(src), NO_RULES, tree=tree)
        assert next(walk)[0] == "a.txt"
        (src / "b" / "x.txt").unlink()
        (src / "b").rmdir()
        (src / "b").symlink_to(outside)
        assert [key for key, _ in walk] == ["c.txt"]
        assert tree.unreadable == []  # gone as a directory, not an error

    def test_stats_come_from_the_walk(self, tmp_path: Path) -> None:
        (tmp_path / "d").mkdir()
        for name in ("a", "d/b"):
            (tmp_path / name).write_bytes(b"12345")
        walked = dict(scan_source(str(tmp_path), NO_RULES, tree=SourceTree()))
        for key, st in walked.items():
            assert isinstance(st, os.stat_result)
            assert (st.st_ino, st.st_size, st.st_mtime_ns) == (
                os.lstat(tmp_path / key).st_ino,
                5,
                os.lstat(tmp_path / key).st_mtime_ns,
            )

    def test_state_records_in_key_order_page_by_page(self, tmp_path: Path) -> None:
        keys = [*TestOrder.NAMES, *(f"k{i}" for i in range(25))]
        random.Random(3).shuffle(keys)
        with State(tmp_path / "s.db") as state:
            with state.transaction() as db:
                state.record_many(db, [rec(key) for key in keys])
            read = [r.key for r in state.iter_files(page=4)]
        text = sorted((k for k in keys if not isinstance(sql_key(k), bytes)), key=os.fsencode)
        blobs = sorted((k for k in keys if isinstance(sql_key(k), bytes)), key=os.fsencode)
        assert read == text + blobs


class ListingSpy(MemoryDestination):
    """A memory destination whose listing waits half-way (a bounded time) for a put."""

    def __init__(self) -> None:
        super().__init__()
        self.put_seen = threading.Event()
        self.put_while_listing = False

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        infos = [*super().list(prefix)]
        half = len(infos) // 2
        yield from infos[:half]
        self.put_while_listing = self.put_seen.wait(timeout=10)
        yield from infos[half:]

    def put(self, key: str, source: SourceFile) -> ObjectInfo:
        self.put_seen.set()
        return super().put(key, source)


def test_copies_start_while_the_trees_are_walked(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for d in range(3):
        (src / f"d{d}").mkdir(parents=True)
        for f in range(1000):
            (src / f"d{d}" / f"f{f:04d}").write_bytes(b"x")
    dest = ListingSpy()
    for d in range(3):  # other keys beside each source file: listed until the walk's end
        for f in range(1000):
            with SourceFile(str(src / "d0" / "f0000")) as one:
                dest.put(f"d{d}/f{f:04d}.old", one)
    dest.put_seen.clear()
    with Replicator(src, dest, state=tmp_path / "s.db", delete=False) as replicator:
        report = replicator.sync_all()
    assert (report.files_copied, report.failed) == (3000, [])
    # A reconcile of whole trees in memory puts nothing before the listing was read to its end.
    assert dest.put_while_listing


@pytest.mark.parametrize("window", [1, 3, 1000])
def test_any_window_gives_the_plan_of_the_whole(window: int) -> None:
    rnd = random.Random(window)
    keys = sorted({f"{rnd.choice('abc')}/{rnd.randrange(50)}" for _ in range(200)})
    source = [(k, st()) for k in keys if rnd.random() < 0.8]
    dest = [info(k) for k in keys if rnd.random() < 0.8]
    records = [rec(k) for k in keys if rnd.random() < 0.5]
    have = {k for k, _ in source}
    plan, tasks = run(source, dest, records, present=have, window=window, max_delete=-1)
    whole, at_once = run(source, dest, records, present=have, window=len(keys) + 1, max_delete=-1)
    assert {t.key: t.mode for t in tasks} == {t.key: t.mode for t in at_once}
    assert (plan.deletes, plan.forget, plan.unchanged) == (
        whole.deletes,
        whole.forget,
        whole.unchanged,
    )
