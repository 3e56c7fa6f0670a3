"""The Manager in this process: policies changed through its `Control` surface, and status."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import bucket_tree, policy_table, tree, wait_for

from fsreplica import destinations
from fsreplica.daemon.config import load_config
from fsreplica.daemon.control import Policy, PolicyStatus
from fsreplica.daemon.manager import Manager
from fsreplica.errors import InvalidPolicy, PolicyConflict, PolicyNotFound
from servers import motoserver

COMMENTED = "# the user's own words\n"


@pytest.fixture
def sources(tmp_path: Path) -> list[Path]:
    out = []
    for n in range(3):
        src = tmp_path / f"src{n}"
        src.mkdir()
        (src / f"first{n}.txt").write_text(f"first {n}")
        out.append(src)
    return out


@pytest.fixture
def manager(tmp_path: Path, environ: dict[str, str], sources: list[Path]) -> Iterator[Manager]:
    config = tmp_path / "config.toml"
    config.write_text(
        COMMENTED
        + policy_table("one", sources[0], tmp_path / "dst0", debounce=0.05)
        + "\n# two is here\n"
        + policy_table("two", sources[1], tmp_path / "dst1", debounce=0.05)
    )
    with Manager(str(config)) as manager:
        manager.start()
        yield manager


def state_of(manager: Manager, policy_id: str) -> PolicyStatus:
    return manager.policy_status(policy_id)


def wait_live(manager: Manager, *ids: str) -> None:
    for policy_id in ids:
        wait_for(lambda p=policy_id: state_of(manager, p).state == "live", f"{policy_id} live")


class TestChanges:
    """Changes are written to the file (keeping its comments), then applied."""

    def test_add_disable_remove(
        self, manager: Manager, tmp_path: Path, sources: list[Path]
    ) -> None:
        wait_live(manager, "one", "two")
        assert manager.status().ready
        added = manager.add_policy(
            Policy(id="three", source=str(sources[2]), destination=str(tmp_path / "dst2"))
        )
        assert [p.id for p in load_config(manager.path).policies] == ["one", "two", "three"]
        wait_for(lambda: tree(tmp_path / "dst2") == {"first2.txt": b"first 2"}, "three's copy")
        assert manager.policy("three") == added
        manager.update_policy("one", {"enabled": False})
        assert state_of(manager, "one").state == "disabled"
        assert load_config(manager.path).policies[0].enabled is False
        (sources[0] / "later.txt").write_text("not replicated: one is disabled")
        manager.remove_policy("two")
        text = Path(manager.path).read_text()
        assert text.startswith(COMMENTED)
        assert "# two is here" not in text
        assert [p.id for p in manager.policies()] == ["one", "three"]
        with pytest.raises(PolicyNotFound):
            manager.policy_status("two")
        assert "later.txt" not in tree(tmp_path / "dst0")
        kinds = [
            (e.kind, e.policy) for e in manager.events(0).events if e.kind.startswith("policy")
        ]
        assert kinds == [
            ("policy-added", "three"),
            ("policy-changed", "one"),
            ("policy-removed", "two"),
        ]

    def test_conflicts(self, manager: Manager, tmp_path: Path, sources: list[Path]) -> None:
        with pytest.raises(PolicyConflict, match="'one' exists already"):
            manager.add_policy(Policy(id="one", source=str(sources[2]), destination="/x"))
        same_pair = Policy(id="again", source=str(sources[0]), destination=str(tmp_path / "dst0"))
        with pytest.raises(PolicyConflict) as caught:
            manager.add_policy(same_pair)
        assert caught.value.reason == (
            "policy 'again' has the same source and destination as 'one' (they would share one "
            "state file)"
        )
        with pytest.raises(InvalidPolicy) as invalid:
            manager.update_policy("one", {"transfers": 0})
        assert invalid.value.detail == "transfers"
        with pytest.raises(PolicyNotFound):
            manager.remove_policy("nope")
        assert [p.id for p in load_config(manager.path).policies] == ["one", "two"]

    def test_reload_touches_only_what_changed(
        self, manager: Manager, tmp_path: Path, sources: list[Path]
    ) -> None:
        wait_live(manager, "one", "two")
        seen = manager.events(0).next
        Path(manager.path).write_text(
            COMMENTED
            + policy_table("one", sources[0], tmp_path / "dst0", debounce=0.05)
            + "\n"
            + policy_table("three", sources[2], tmp_path / "dst2")
        )
        assert manager.reload() == {"added": ["three"], "removed": ["two"], "changed": []}
        wait_live(manager, "three")
        assert not [e for e in manager.events(seen).events if e.policy == "one"]  # undisturbed
        (sources[0] / "more.txt").write_text("more")
        wait_for(lambda: "more.txt" in tree(tmp_path / "dst0"), "one to go on")

    def test_trigger_runs_a_full_reconcile(self, manager: Manager, tmp_path: Path) -> None:
        wait_live(manager, "one", "two")
        (tmp_path / "dst0" / "first0.txt").unlink()  # behind its back: only a reconcile sees it
        (job,) = manager.trigger("one")
        assert job.id.startswith("j")
        wait_for(lambda: manager.job(job.id).state == "done", "the job")
        assert manager.job(job.id).result is not None
        assert "1 copied" in (manager.job(job.id).result or "")
        assert tree(tmp_path / "dst0") == {"first0.txt": b"first 0"}
        assert {j.policy for j in manager.trigger()} == {"one", "two"}
        with pytest.raises(PolicyNotFound):
            manager.job("j999")


def fds_on(directory: Path) -> int:
    """File descriptors of this process open on `directory`."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == str(directory)
        except OSError:
            continue
    return count


class TestResources:
    """What a policy opened is closed when it stops."""

    def test_a_stopped_policy_closes_its_destination(
        self, manager: Manager, tmp_path: Path
    ) -> None:
        wait_live(manager, "one", "two")
        assert fds_on(tmp_path / "dst0") == 1  # the local destination's root
        manager.update_policy("one", {"enabled": False})
        wait_for(lambda: state_of(manager, "one").state == "disabled", "one disabled")
        assert fds_on(tmp_path / "dst0") == 0
        manager.update_policy("one", {"enabled": True})
        wait_live(manager, "one")
        manager.update_policy("one", {"enabled": False})
        wait_for(lambda: state_of(manager, "one").state == "disabled", "one disabled again")
        assert fds_on(tmp_path / "dst0") == 0
        assert fds_on(tmp_path / "dst1") == 1


class TestDefaults:
    """What a policy gets when its table leaves a field out."""

    def test_transfers_follow_the_destination(
        self, manager: Manager, tmp_path: Path, sources: list[Path]
    ) -> None:
        wait_live(manager, "one", "two")
        engine = manager._runners["one"]._replicator._engine  # type: ignore[union-attr]
        assert len(engine._threads) == 2  # replicate's default to a local directory
        manager.update_policy("two", {"transfers": 3})
        wait_live(manager, "two")
        engine = manager._runners["two"]._replicator._engine  # type: ignore[union-attr]
        assert len(engine._threads) == 3
        assert "transfers = 3" in (tmp_path / "config.toml").read_text()
        assert "transfers =" not in (tmp_path / "config.toml").read_text().split("# two is")[0]


class TestTrouble:
    """A policy in trouble says so in its status and never stalls the others."""

    def test_source_gone_and_back(
        self, manager: Manager, tmp_path: Path, sources: list[Path]
    ) -> None:
        wait_live(manager, "one", "two")
        away = tmp_path / "away"
        sources[0].rename(away)
        wait_for(lambda: state_of(manager, "one").state == "source-gone", "one's source gone")
        gone = [e for e in manager.events(0).events if e.kind == "state" and e.policy == "one"]
        assert (gone[-1].detail or "").startswith("source-gone: ")
        (sources[1] / "meanwhile.txt").write_text("two goes on")
        wait_for(lambda: "meanwhile.txt" in tree(tmp_path / "dst1"), "two to go on")
        assert not manager.status().ready
        away.rename(sources[0])
        (sources[0] / "back.txt").write_text("back")
        wait_for(lambda: "back.txt" in tree(tmp_path / "dst0"), "one to resume")
        wait_live(manager, "one")

    def test_a_source_missing_at_start_is_waited_for(
        self, tmp_path: Path, environ: dict[str, str]
    ) -> None:
        config = tmp_path / "config.toml"
        config.write_text(policy_table("later", tmp_path / "later", tmp_path / "dst"))
        with Manager(str(config)) as manager:
            manager.start()
            wait_for(lambda: state_of(manager, "later").state == "source-gone", "source-gone")
            (tmp_path / "later").mkdir()
            (tmp_path / "later" / "x").write_text("x")
            wait_for(lambda: tree(tmp_path / "dst") == {"x": b"x"}, "the copy")

    def test_a_failing_policy_leaves_the_others_alone(
        self, tmp_path: Path, environ: dict[str, str], sources: list[Path]
    ) -> None:
        (tmp_path / "state-dir").mkdir()
        config = tmp_path / "config.toml"
        config.write_text(
            policy_table("bad", sources[0], tmp_path / "dst0", state=str(tmp_path / "state-dir"))
            + policy_table("good", sources[1], tmp_path / "dst1")
        )
        with Manager(str(config)) as manager:
            manager.start()
            wait_for(lambda: state_of(manager, "bad").state == "failed", "bad to fail")
            assert (state_of(manager, "bad").detail or "").startswith(f"state {tmp_path}/state-dir")
            wait_live(manager, "good")
            assert tree(tmp_path / "dst1") == {"first1.txt": b"first 1"}
            assert not manager.status().ready

    def test_a_bug_in_one_policy_fails_it_alone(
        self,
        tmp_path: Path,
        environ: dict[str, str],
        sources: list[Path],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setitem(
            destinations._SCHEMES, "broken", ("daemon_helpers:broken_destination", None)
        )
        config = tmp_path / "config.toml"
        config.write_text(
            policy_table("buggy", sources[0], "broken://x")
            + policy_table("fine", sources[1], tmp_path / "dst1", debounce=0.05)
        )
        with Manager(str(config)) as manager:
            manager.start()
            wait_for(lambda: state_of(manager, "buggy").state == "failed", "buggy to fail")
            assert re.fullmatch(
                r"internal error in fsreplica-transfer-\d+: Bug: a bug putting first0\.txt",
                state_of(manager, "buggy").detail or "",
            )
            wait_live(manager, "fine")
            (sources[1] / "more.txt").write_text("more")
            wait_for(lambda: "more.txt" in tree(tmp_path / "dst1"), "fine to go on")
            failed = [
                e for e in manager.events(0).events if e.kind == "state" and e.policy == "buggy"
            ]
            assert (failed[-1].detail or "").startswith("failed: internal error in")

    def test_destination_down(
        self,
        tmp_path: Path,
        environ: dict[str, str],
        sources: list[Path],
        moto_bucket: tuple[str, str],
    ) -> None:
        endpoint, bucket = moto_bucket
        config = tmp_path / "config.toml"
        config.write_text(
            policy_table(
                "moto", sources[0], f"s3://{bucket}/p", endpoint_url=endpoint, debounce=0.05
            )
            + policy_table("local", sources[1], tmp_path / "dst1", debounce=0.05)
        )
        with Manager(str(config)) as manager:
            manager.start()
            wait_live(manager, "moto", "local")
            with motoserver.outage():
                (sources[0] / "during.txt").write_text("waits for the outage to end")
                wait_for(lambda: state_of(manager, "moto").state == "destination-down", "moto down")
                status = state_of(manager, "moto")
                assert not status.destination_up
                assert status.pending >= 1
                assert (status.detail or "").startswith(f"s3://{bucket}/p")
                (sources[1] / "local.txt").write_text("goes on")
                wait_for(lambda: "local.txt" in tree(tmp_path / "dst1"), "local to go on")
            wait_for(lambda: "during.txt" in bucket_tree(endpoint, bucket, "p"), "the change after")
            wait_live(manager, "moto")
            states = [
                (e.detail or "").split(":")[0]
                for e in manager.events(0).events
                if e.kind == "state" and e.policy == "moto"
            ]
            assert states[-2:] == ["destination-down", "live"]
            assert os.path.isdir(tmp_path / "dst1")
