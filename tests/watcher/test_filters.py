"""Ignore patterns match every path component; ignored directories are not watched."""

from __future__ import annotations

from pathlib import Path

import pytest

import fsreplica
from fsreplica.filters import ignore_patterns

from .conftest import write


class TestDefaultIgnore:
    """The seed's filters, applied to every component."""

    @pytest.mark.parametrize(
        "rel",
        [".hidden", "x.metadata.json", "backup~", "temp.tmp", ".git/objects/ab", "a/.cache/b/c"],
    )
    def test_ignored(self, tmp_path: Path, make_watcher, rel: str) -> None:
        _, events = make_watcher(tmp_path)
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        write(tmp_path / rel, "x")
        events.marker(tmp_path)
        assert events.events == []

    def test_ignored_directories_are_not_watched(self, tmp_path: Path, make_watcher) -> None:
        for i in range(20):
            (tmp_path / ".git" / f"d{i}").mkdir(parents=True)
        (tmp_path / "src").mkdir()
        watcher, events = make_watcher(tmp_path)
        events.marker(tmp_path)
        assert watcher.stats.watches == 2

    def test_regular_names_pass(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path)
        for rel in ("a.json", "tmp", "x.tmpl", "dir.tmp.d/f"):
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            write(tmp_path / rel, "x")
        assert events.wait(lambda: events.seen() == {"a.json", "tmp", "x.tmpl", "dir.tmp.d/f"})


class TestCustomIgnore:
    """Patterns are replaceable and extendable."""

    def test_replace_defaults(self, tmp_path: Path, make_watcher) -> None:
        _, events = make_watcher(tmp_path, ignore=["*.log"])
        write(tmp_path / ".hidden", "x")
        write(tmp_path / "app.log", "x")
        events.wait_key(".hidden")
        events.marker(tmp_path)
        assert events.seen() == {".hidden"}

    def test_extend_with_a_path_pattern(self, tmp_path: Path, make_watcher) -> None:
        (tmp_path / "build" / "out").mkdir(parents=True)
        (tmp_path / "src" / "build").mkdir(parents=True)
        _, events = make_watcher(tmp_path, ignore=[*fsreplica.DEFAULT_IGNORE, "build/out"])
        write(tmp_path / "build" / "out" / "f", "x")
        write(tmp_path / "src" / "build" / "f", "x")
        write(tmp_path / ".x", "x")
        events.wait_key("src/build/f")
        events.marker(tmp_path)
        assert events.seen() == {"src/build/f"}


class TestRules:
    """IgnoreRules on its own."""

    def test_name_and_key(self) -> None:
        rules = fsreplica.IgnoreRules([".*", "docs/*.pdf"])
        assert rules.name(".git")
        assert not rules.name("git")
        assert rules.key("a/.git/b")
        assert rules.key("docs/x.pdf")
        assert not rules.key("a/docs/x.pdf")
        assert rules.child("docs", "x.pdf")
        assert not rules.child("", "docs")
        assert rules.has_key_patterns

    def test_empty_rules_ignore_nothing(self) -> None:
        rules = fsreplica.IgnoreRules([])
        assert not rules.name(".git")
        assert not rules.key(".a/.b")
        assert not rules.child("x", ".y")
        assert not rules.has_key_patterns

    @pytest.mark.parametrize("bad", ["", None, 3])
    def test_bad_pattern(self, bad: object) -> None:
        with pytest.raises(ValueError, match="ignore pattern"):
            fsreplica.IgnoreRules([bad])  # type: ignore[list-item]


class TestIgnorePatterns:
    """The one composition of the default patterns and --exclude (CLI and Replicator)."""

    def test_defaults_then_exclude(self) -> None:
        patterns = ignore_patterns(["*.log"])
        assert patterns == (*fsreplica.DEFAULT_IGNORE, "*.log")

    def test_without_defaults(self) -> None:
        assert ignore_patterns(["*.log"], default_excludes=False) == ("*.log",)
        assert ignore_patterns(default_excludes=False) == ()

    def test_replicator_uses_it(self, tmp_path: Path) -> None:
        (tmp_path / "src").mkdir()
        with fsreplica.Replicator(
            tmp_path / "src",
            tmp_path / "dst",
            state=tmp_path / "state.db",
            exclude=["*.log"],
            default_excludes=False,
        ) as replicator:
            assert replicator.ignore == ignore_patterns(["*.log"], default_excludes=False)
