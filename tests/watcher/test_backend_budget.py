"""The inotify watch budget on the real kernel: a lowered max_user_watches, restored after."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import fsreplica
from fsreplica.watch import _budget

from .conftest import Collector, sysctl, write

MAX_USER_WATCHES = "/proc/sys/fs/inotify/max_user_watches"


def _watch_with_few_watches(root: Path) -> tuple[fsreplica.Watcher, Collector]:
    """Watch `root` with `auto` while only 20 more inotify watches are allowed (then restored)."""
    with sysctl(MAX_USER_WATCHES, _budget.watches_in_use() + 20):
        config = fsreplica.WatcherConfig(debounce_delay=0, poll_interval=0.05)
        watcher = fsreplica.Watcher(config)
        watcher.watch(root)
    return watcher, Collector(watcher)


@pytest.mark.sysctl
class TestBudget:
    """`auto` watches what fits and polls the rest; `inotify` refuses with the numbers."""

    def test_auto_polls_the_subtrees_that_do_not_fit(self, tmp_path: Path) -> None:
        for i in range(30):
            write(tmp_path / f"top{i}", "x")
            (tmp_path / f"d{i}" / "deep").mkdir(parents=True)
        watcher, events = _watch_with_few_watches(tmp_path)
        try:
            assert watcher.backends == {str(tmp_path): "inotify+polling"}
            # Every directory is covered: some natively, the rest by polling, keys from the root.
            expected = {f"d{i}/deep/new" for i in range(30)} | {"top0"}
            for i in range(30):
                write(tmp_path / f"d{i}" / "deep" / "new", "y")
            write(tmp_path / "top0", "changed")
            assert events.wait(lambda: expected <= events.seen()), events.summary()
            assert all(e.root == str(tmp_path) for e in events.events)
            assert events.errors == []
        finally:
            watcher.stop()
            assert events.done.wait(10)

    def test_inotify_refuses_with_needed_limit_and_sysctl(self, tmp_path: Path) -> None:
        for i in range(30):
            (tmp_path / f"d{i}").mkdir()
        in_use = _budget.watches_in_use()
        with sysctl(MAX_USER_WATCHES, in_use + 5):
            config = fsreplica.WatcherConfig(backend="inotify")
            with (
                fsreplica.Watcher(config) as watcher,
                pytest.raises(fsreplica.WatcherError) as info,
            ):
                watcher.watch(tmp_path)
        message = str(info.value)
        assert f"fs.inotify.max_user_watches={in_use + 5}" in message
        assert "needs 31 watches" in message
        assert "sysctl -w fs.inotify.max_user_watches=" in message

    def test_plan_is_breadth_first_and_honours_ignores(self, tmp_path: Path) -> None:
        for rel in ("a/b/c", "d/e", ".hidden/x"):
            (tmp_path / rel).mkdir(parents=True)
        plan = _budget.plan(str(tmp_path), fsreplica.IgnoreRules(), 3)
        assert plan.needed == 6
        assert sorted(plan.polled) == [str(tmp_path / "a" / "b"), str(tmp_path / "d" / "e")]
        assert _budget.plan(str(tmp_path), fsreplica.IgnoreRules(), 100).polled == []


@pytest.mark.sysctl
class TestPolledSubtreesMove:
    """A polled subtree removed or renamed with its parent: deletes, and puts at the new name."""

    def test_removed_and_renamed(self, tmp_path: Path) -> None:
        for i in range(30):
            (tmp_path / f"d{i}" / "deep").mkdir(parents=True)
            write(tmp_path / f"d{i}" / "deep" / "f", "x")
        watcher, events = _watch_with_few_watches(tmp_path)
        try:
            assert watcher.backends == {str(tmp_path): "inotify+polling"}
            for i in range(0, 30, 3):
                shutil.rmtree(tmp_path / f"d{i}")
            for i in range(1, 30, 3):
                (tmp_path / f"d{i}").rename(tmp_path / f"e{i}")
            for i in range(2, 30, 3):
                (tmp_path / f"d{i}" / "deep").rename(tmp_path / f"d{i}" / "moved")
            expected = (
                {f"d{i}/deep/f": "delete" for i in range(30)}
                | {f"e{i}/deep/f": "put" for i in range(1, 30, 3)}
                | {f"d{i}/moved/f": "put" for i in range(2, 30, 3)}
            )
            assert events.wait(lambda: events.final() == expected), events.summary()
        finally:
            watcher.stop()
            assert events.done.wait(10)
