"""The plan: selection, refusals, collisions, and the choice of a version at a time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fsreplica.destinations import ObjectInfo, ObjectVersion
from fsreplica.restore.plan import Item, Selection, items_at, make_plan
from fsreplica.restore.safety import collisions, refusal


def items(*keys: str) -> list[Item]:
    return [Item(key, ObjectInfo(key, 1, 0)) for key in keys]


class TestRefusal:
    """Keys that do not name a path below the target."""

    @pytest.mark.parametrize(
        ("key", "reason"),
        [
            ("", "empty key"),
            ("/etc/passwd", "absolute key: would leave the target directory"),
            ("../x", "key has a '..' component: would leave the target directory"),
            ("a/../../x", "key has a '..' component: would leave the target directory"),
            ("a//b", "key has an empty or '.' component"),
            ("a/./b", "key has an empty or '.' component"),
            ("dir/", "key has an empty or '.' component"),
            ("a\0b", "key holds a NUL byte"),
            ("\ud800", "key is not a file name"),
            (".fsreplica-restore", "key has a name the restore reserves for itself"),
            (
                "d/.fsreplica-restore-0123456789abcdef.tmp",
                "key has a name the restore reserves for itself",
            ),
        ],
    )
    def test_refused(self, key: str, reason: str) -> None:
        assert refusal(key) == reason

    @pytest.mark.parametrize(
        "key", ["a", "a/b", "bad\udcff", "new\nline", "..x", "x..", "d/.fsreplica-restore"]
    )
    def test_accepted(self, key: str) -> None:
        assert refusal(key) is None


class TestCollisions:
    """A key that is also a directory of another key."""

    def test_found(self) -> None:
        assert collisions(["a", "a/b", "a/b/c", "ab", "c/d"]) == {"a", "a/b"}
        assert collisions(["x/y", "x/z"]) == set()


class TestMakePlan:
    """Selection first, then refusals and collisions; items in the order of their bytes."""

    def test_plan(self) -> None:
        plan = make_plan(
            items("b", "a/x", "a", "../up", "skip.tmp", "\udcff", "z"),
            select=Selection(exclude=["*.tmp"]),
        )
        assert [item.key for item in plan.items] == ["a/x", "b", "z", "\udcff"]
        assert plan.refused == [
            ("../up", "key has a '..' component: would leave the target directory"),
            ("a", "both a file and a directory in the store (a/...)"),
        ]
        assert plan.excluded == 1

    def test_selection(self) -> None:
        select = Selection(include=["docs", "*.txt"], exclude=["secret*"])
        assert [k for k in ("docs/a", "x.txt", "d/y.txt", "docs/secret", "z") if select(k)] == [
            "docs/a",
            "x.txt",
            "d/y.txt",
        ]
        assert Selection()("anything")


class Versions:
    """A store's versions, each key's newest first (as `list_versions` yields them)."""

    def __init__(self, versions: list[ObjectVersion]) -> None:
        self.versions = versions

    def keeps_versions(self) -> bool:
        return True

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        return iter([v for v in self.versions if v.key.startswith(prefix)])

    def stat_version(self, key: str, version: str) -> ObjectInfo:
        raise NotImplementedError

    def read_version(self, key: str, version: str) -> Iterator[bytes]:
        raise NotImplementedError


class TestItemsAt:
    """Each key's newest version made at or before the time; deletions hide the key."""

    STORE = Versions(
        [
            ObjectVersion("a", "a3", 30),
            ObjectVersion("a", "a2", 20),
            ObjectVersion("a", "a1", 10),
            ObjectVersion("d", "d2", 20, deleted=True),
            ObjectVersion("d", "d1", 10),
            ObjectVersion("n", "n1", 25),
            ObjectVersion("t", "t2", 20, deleted=True),  # deleted and written again, same time
            ObjectVersion("t", "t1", 20),
        ]
    )

    def chosen(self, at: int) -> dict[str, str | None]:
        return {item.key: item.version for item in items_at(self.STORE, prefix="", at_ns=at)}

    def test_times(self) -> None:
        assert self.chosen(5) == {}
        assert self.chosen(10) == {"a": "a1", "d": "d1"}
        assert self.chosen(22) == {"a": "a2"}
        assert self.chosen(100) == {"a": "a3", "n": "n1"}


def test_folder_markers_are_left_out_quietly() -> None:
    plan = make_plan(
        [Item("photos", ObjectInfo("photos", 0, 0)), *items("photos/a.jpg", "x", "x/y")],
        select=Selection(),
    )
    assert [item.key for item in plan.items] == ["photos/a.jpg", "x/y"]
    assert plan.refused == [("x", "both a file and a directory in the store (x/...)")]
