"""The reconcile's decision table: `march` on pure inputs (no disk, no destination)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from fsreplica.destinations import ObjectInfo
from fsreplica.filters import IgnoreRules
from fsreplica.replicate.engine import Mode
from fsreplica.replicate.march import Plan, march
from fsreplica.replicate.reconcile import SourceTree
from fsreplica.replicate.state import FileRecord

SIZE, MTIME, CTIME, INODE, MODE = 10, 2_000, 3_000, 7, 0o644


def st(
    *, size: int = SIZE, mtime: int = MTIME, ctime: int = CTIME, ino: int = INODE, mode: int = MODE
) -> os.stat_result:
    """A regular file's stat as the source walk gives it."""
    return os.stat_result(
        (0o100000 | mode, ino, 1, 1, 0, 0, size, 0, 0, 0),
        {"st_atime_ns": 0, "st_mtime_ns": mtime, "st_ctime_ns": ctime},
    )


def info(key: str, *, size: int = SIZE, mtime: int = MTIME, sha: str | None = "aa") -> ObjectInfo:
    """What the destination lists for `key`."""
    return ObjectInfo(key, size, mtime, MODE, sha)


def rec(key: str, *, sha: str | None = "aa", dest_mtime: int = MTIME) -> FileRecord:
    """What the state recorded when `key` was last replicated (matching `st()`)."""
    return FileRecord(key, SIZE, MTIME, CTIME, INODE, MODE, sha, dest_mtime)


def make_plan(
    tree: SourceTree,
    listing: dict[str, ObjectInfo],
    records: dict[str, FileRecord],
    *,
    rules: IgnoreRules,
    delete: bool,
    max_delete: int | None,
) -> Plan:
    """The plan of three sides held in dicts: each fed to `march` in key order."""
    return march(
        sorted(tree.files.items()),
        [listing[key] for key in sorted(listing)],
        [records[key] for key in sorted(records)],
        tree=tree,
        rules=rules,
        delete=delete,
        max_delete=max_delete,
        present=tree.files.__contains__,
    )


@dataclass
class Case:
    """One row: the three sides, and what the plan must say."""

    source: dict[str, os.stat_result] = field(default_factory=dict)
    dest: list[ObjectInfo] = field(default_factory=list)
    state: list[FileRecord] = field(default_factory=list)
    delete: bool = True
    max_delete: int | None = None
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    tasks: dict[str, str] = field(default_factory=dict)  # key -> mode
    deletes: list[str] = field(default_factory=list)
    unchanged: int = 0
    forget: list[str] = field(default_factory=list)
    refused: bool = False


# A destination of ten files, so that one delete is far below the guard's half.
TEN = [info(f"k{i}") for i in range(10)]
TEN_SRC = {f"k{i}": st() for i in range(10)}
TEN_REC = [rec(f"k{i}") for i in range(10)]

CASES = {
    "source only, no state: copy": Case(source={"a": st()}, tasks={"a": Mode.FORCE}),
    "source only, stale state: copy": Case(
        source={"a": st()}, state=[rec("a")], tasks={"a": Mode.FORCE}
    ),
    "both, as recorded: unchanged": Case(
        source={"a": st()}, dest=[info("a")], state=[rec("a")], unchanged=1
    ),
    "both, recorded, source touched (ctime): compare with the state": Case(
        source={"a": st(ctime=CTIME + 1)},
        dest=[info("a")],
        state=[rec("a")],
        tasks={"a": Mode.SYNC},
    ),
    "both, recorded, source chmod-ed: compare with the state": Case(
        source={"a": st(mode=0o600)}, dest=[info("a")], state=[rec("a")], tasks={"a": Mode.SYNC}
    ),
    "both, recorded, source rewritten in place (inode kept, new size): compare": Case(
        source={"a": st(size=11)}, dest=[info("a")], state=[rec("a")], tasks={"a": Mode.SYNC}
    ),
    "both, recorded, source replaced (new inode): compare": Case(
        source={"a": st(ino=8)}, dest=[info("a")], state=[rec("a")], tasks={"a": Mode.SYNC}
    ),
    "both, destination changed behind our back (size): copy": Case(
        source={"a": st()}, dest=[info("a", size=3)], state=[rec("a")], tasks={"a": Mode.FORCE}
    ),
    "both, destination's hash not the recorded one, same size and mtime: check by hash": Case(
        source={"a": st()}, dest=[info("a", sha="bb")], state=[rec("a")], tasks={"a": Mode.ADOPT}
    ),
    "both, destination lists no hash: the state's record stands": Case(
        source={"a": st()}, dest=[info("a", sha=None)], state=[rec("a")], unchanged=1
    ),
    "both, no state, same size and mtime: adopt after a hash check": Case(
        source={"a": st()}, dest=[info("a")], tasks={"a": Mode.ADOPT}
    ),
    "both, no state, another mtime: copy": Case(
        source={"a": st()}, dest=[info("a", mtime=1)], tasks={"a": Mode.FORCE}
    ),
    "destination only, recorded: delete": Case(
        source=dict(list(TEN_SRC.items())[1:]),
        dest=TEN,
        state=TEN_REC,
        unchanged=9,
        deletes=["k0"],
    ),
    "destination only, --no-delete: kept": Case(
        source=dict(list(TEN_SRC.items())[1:]), dest=TEN, state=TEN_REC, unchanged=9, delete=False
    ),
    "state only: forgotten": Case(state=[rec("gone")], forget=["gone"]),
    "source empty, destination full: deletes refused": Case(
        dest=[info("a"), info("b")], state=[rec("a"), rec("b")], refused=True
    ),
    "more than half of the destination would go: refused": Case(
        source={"k0": st()}, dest=TEN, state=TEN_REC, unchanged=1, refused=True
    ),
    "more than half, but --max-delete allows it": Case(
        source={"k0": st()},
        dest=TEN,
        state=TEN_REC,
        unchanged=1,
        max_delete=-1,
        deletes=[f"k{i}" for i in range(1, 10)],
    ),
    "above --max-delete: refused": Case(
        source=dict(list(TEN_SRC.items())[2:]),
        dest=TEN,
        state=TEN_REC,
        unchanged=8,
        max_delete=1,
        refused=True,
    ),
    "under an unreadable directory: never deleted": Case(
        source=dict(list(TEN_SRC.items())[1:]),
        dest=[*TEN, info("locked/x")],
        state=TEN_REC,
        unreadable=[("locked", "permission denied")],
        unchanged=9,
        deletes=["k0"],
    ),
    "ignored at the destination: left alone": Case(
        source={"a": st()}, dest=[info("a"), info(".hidden")], state=[rec("a")], unchanged=1
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decision(case: Case) -> None:
    tree = SourceTree(files=case.source, unreadable=case.unreadable)
    plan = make_plan(
        tree,
        {i.key: i for i in case.dest},
        {r.key: r for r in case.state},
        rules=IgnoreRules((".*",)),
        delete=case.delete,
        max_delete=case.max_delete,
    )
    assert {t.key: t.mode for t in plan.tasks} == case.tasks
    assert sorted(plan.deletes) == sorted(case.deletes)
    assert plan.unchanged == case.unchanged
    assert plan.forget == case.forget
    assert (plan.refused is not None) == case.refused, plan.refused
    if case.refused:
        assert plan.deletes == []
    assert plan.source_count == len(case.source)
    assert plan.dest_count == len(case.dest)


def test_adopt_carries_what_the_destination_listed() -> None:
    listed = info("a")
    plan = make_plan(
        SourceTree(files={"a": st()}),
        {"a": listed},
        {},
        rules=IgnoreRules(()),
        delete=True,
        max_delete=None,
    )
    assert [(t.mode, t.dest_info) for t in plan.tasks] == [(Mode.ADOPT, listed)]
