"""Policies with the same source share its watches; each keeps its own excludes."""

from __future__ import annotations

from pathlib import Path

from daemon_helpers import policy_table, tree, wait_for

from fsreplica.daemon.control import Policy
from fsreplica.daemon.manager import Manager


def make_tree(root: Path, dirs: int) -> None:
    for n in range(dirs):
        (root / f"d{n}" / "inner").mkdir(parents=True)
        (root / f"d{n}" / f"f{n}.txt").write_text(f"file {n}")
        (root / f"d{n}" / f"f{n}.log").write_text(f"log {n}")


class TestSharedWatches:
    """One watcher per source for the daemon, whatever the number of policies."""

    def test_two_policies_of_one_source(self, tmp_path: Path, environ: dict[str, str]) -> None:
        src = tmp_path / "src"
        make_tree(src, 5)  # 1 + 5 + 5 directories
        config = tmp_path / "config.toml"
        config.write_text(
            policy_table("all", src, tmp_path / "all", debounce=0.05)
            + policy_table("nolog", src, tmp_path / "nolog", debounce=0.05, exclude=["*.log"])
        )
        with Manager(str(config)) as manager:
            manager.start()
            wait_for(lambda: manager.status().ready, "both live")
            assert manager.status().watches == 11  # once, not twice
            (src / "d1" / "new.txt").write_text("new")
            (src / "d1" / "new.log").write_text("new log")
            wait_for(lambda: "d1/new.log" in tree(tmp_path / "all"), "all: the log")
            wait_for(lambda: "d1/new.txt" in tree(tmp_path / "nolog"), "nolog: the text")
            assert not [k for k in tree(tmp_path / "nolog") if k.endswith(".log")]
            (src / "d2" / "f2.txt").rename(src / "d2" / "f2.log")  # a name nolog ignores
            wait_for(lambda: "d2/f2.txt" not in tree(tmp_path / "nolog"), "nolog: a delete")
            wait_for(lambda: "d2/f2.log" in tree(tmp_path / "all"), "all: the rename")
            assert "d2/f2.txt" not in tree(tmp_path / "all")

            manager.remove_policy("all")  # the other goes on, on the same watches
            (src / "d3" / "after.txt").write_text("after")
            wait_for(lambda: "d3/after.txt" in tree(tmp_path / "nolog"), "nolog goes on")
            assert manager.status().watches == 11

    def test_a_policy_that_ignores_less_gets_its_own(
        self, tmp_path: Path, environ: dict[str, str]
    ) -> None:
        src = tmp_path / "src"
        make_tree(src, 2)  # 5 directories
        (src / "cache").mkdir()
        config = tmp_path / "config.toml"
        config.write_text(policy_table("narrow", src, tmp_path / "narrow", exclude=["cache"]))
        with Manager(str(config)) as manager:
            manager.start()
            wait_for(lambda: manager.status().ready, "narrow live")
            assert manager.status().watches == 5
            manager.add_policy(Policy(id="wide", source=str(src), destination=str(tmp_path / "w")))
            wait_for(lambda: manager.status().ready, "wide live")
            assert manager.status().watches == 5 + 6  # "wide" cannot use narrow's watches

    def test_the_source_lost_and_back(self, tmp_path: Path, environ: dict[str, str]) -> None:
        src = tmp_path / "src"
        make_tree(src, 2)
        config = tmp_path / "config.toml"
        config.write_text(
            policy_table("a", src, tmp_path / "a", debounce=0.05)
            + policy_table("b", src, tmp_path / "b", debounce=0.05)
        )
        with Manager(str(config)) as manager:
            manager.start()
            wait_for(lambda: manager.status().ready, "both live")
            src.rename(tmp_path / "away")
            for policy in ("a", "b"):
                wait_for(
                    lambda p=policy: manager.policy_status(p).state == "source-gone", f"{policy}"
                )
            (tmp_path / "away").rename(src)
            (src / "back.txt").write_text("back")
            for name in ("a", "b"):
                wait_for(lambda n=name: "back.txt" in tree(tmp_path / n), f"{name} resumes")
            (src / "live.txt").write_text("live again")
            for name in ("a", "b"):
                wait_for(lambda n=name: "live.txt" in tree(tmp_path / n), f"{name} live")
            assert manager.status().watches == 5
