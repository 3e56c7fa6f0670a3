"""`fsreplica replicate` as a real process: the final state always arrives, crash safety."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_replicate_helpers import Daemon, fsreplica, tree, wait_for


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "docs" / "old").mkdir(parents=True)
    (root / "keep.txt").write_text("keep")
    (root / "docs" / "a.txt").write_text("a")
    (root / "docs" / "old" / "b.txt").write_text("b")
    (root / "docs" / "old" / "c.txt").write_text("c")
    return root


@pytest.fixture
def dst(tmp_path: Path) -> Path:
    return tmp_path / "dst"


@pytest.fixture
def daemon(tmp_path: Path, src: Path, dst: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, src, dst, "--max-delete", "-1")
    try:
        d.wait_ready()
        yield d
    finally:
        d.close()


def converge(src: Path, dst: Path) -> None:
    wait_for(lambda: tree(src) == tree(dst), "DEST to mirror SRC")
    result = fsreplica("verify", src, dst)
    assert result.returncode == 0, result.stdout + result.stderr


def sh(script: str, cwd: Path, tmp_path: Path) -> None:
    subprocess.run(
        ["bash", "-euc", script],
        cwd=cwd,
        check=True,
        timeout=20,
        env={**os.environ, "OUT": str(tmp_path / "outside")},
    )


SCENARIOS = {
    "burst": "for i in $(seq 1 100); do echo $i > burst.txt; done",
    "overwrite-grow": "for i in $(seq 1 20); do head -c $((i * 5000)) /dev/zero > grow.bin; done",
    "atomic-save": "for i in 1 2 3; do echo v$i > .save.tmp; mv .save.tmp docs/a.txt; done",
    "rm-rf": "rm -rf docs",
    "rename-file": "mv keep.txt kept.txt",
    "rename-dir": "mv docs/old docs/new",
    "move-in-out": "mkdir -p $OUT/in && echo in > $OUT/in/x && mv $OUT/in in && mv docs $OUT/",
    "delete-recreate": "rm docs/a.txt && echo again > docs/a.txt && rm keep.txt",
    "mkdir-p-write": "mkdir -p n/e/s/t && echo deep > n/e/s/t/f && echo x > n/g",
    "file-to-dir": "rm keep.txt && mkdir keep.txt && echo in > keep.txt/f",
}


class TestFinalState:
    """After any sequence of operations, DEST ends identical to SRC and verify says so."""

    @pytest.mark.parametrize("script", SCENARIOS.values(), ids=SCENARIOS.keys())
    def test_scenario(
        self, daemon: Daemon, src: Path, dst: Path, tmp_path: Path, script: str
    ) -> None:
        (tmp_path / "outside").mkdir()
        converge(src, dst)
        sh(script, src, tmp_path)
        converge(src, dst)
        assert daemon.proc.poll() is None

    def test_tar_x(self, daemon: Daemon, src: Path, dst: Path, tmp_path: Path) -> None:
        payload = tmp_path / "payload"
        for i in range(30):
            (payload / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
            (payload / f"d{i % 3}" / f"f{i}").write_bytes(os.urandom(1000 + i))
        with tarfile.open(tmp_path / "p.tar", "w") as tar:
            tar.add(payload, arcname="unpacked")
        sh(f"tar xf {tmp_path / 'p.tar'}", src, tmp_path)
        converge(src, dst)

    def test_git_checkout(self, daemon: Daemon, src: Path, dst: Path, tmp_path: Path) -> None:
        git = "git -c user.email=t@example.com -c user.name=t -c init.defaultBranch=main"
        sh(
            f"""
            mkdir repo && cd repo && {git} init -q
            for i in $(seq 1 20); do echo main$i > f$i; done; mkdir sub; echo s > sub/s
            {git} add -A && {git} commit -qm one
            {git} checkout -qb other
            rm -r sub; for i in $(seq 1 10); do echo other$i > f$i; done; echo n > new
            {git} add -A && {git} commit -qm two
            {git} checkout -q main
            """,
            src,
            tmp_path,
        )
        converge(src, dst)
        sh(f"cd repo && {git} checkout -q other", src, tmp_path)
        converge(src, dst)


class TestRename:
    """A rename inside SRC is a rename at DEST, not a new copy."""

    def test_renamed_file_keeps_its_inode_at_dest(
        self, daemon: Daemon, src: Path, dst: Path
    ) -> None:
        (src / "big.bin").write_bytes(os.urandom(200_000))
        wait_for((dst / "big.bin").exists, "the copy")
        inode = os.stat(dst / "big.bin").st_ino
        os.rename(src / "big.bin", src / "moved.bin")
        wait_for(lambda: tree(src) == tree(dst), "the rename")
        assert os.stat(dst / "moved.bin").st_ino == inode


class TestLifecycle:
    """Signals and restarts."""

    def test_sigterm_exits_zero_with_nothing_pending(
        self, tmp_path: Path, src: Path, dst: Path
    ) -> None:
        d = Daemon(tmp_path, src, dst)
        try:
            d.wait_ready()
            (src / "late.txt").write_text("late")
            wait_for((dst / "late.txt").exists, "the copy")
            assert d.terminate() == 0
        finally:
            d.close()
        status = fsreplica("status", "--state", d.state)
        assert status.returncode == 0, status.stderr
        assert "pending: 0" in status.stdout

    def test_restart_with_nothing_changed_copies_nothing(
        self, tmp_path: Path, src: Path, dst: Path
    ) -> None:
        for _ in range(2):
            d = Daemon(tmp_path, src, dst)
            try:
                d.wait_ready()
                assert d.terminate() == 0
            finally:
                d.close()
        assert "initial sync: 0 copied" in d.output()

    def test_sigkill_at_random_moments(self, tmp_path: Path, src: Path, dst: Path) -> None:
        rng = random.Random(os.getpid())
        counter = 0
        for _round in range(4):
            d = Daemon(tmp_path, src, dst, "--max-delete", "-1")
            try:
                d.wait_ready()
                end = time.monotonic() + rng.uniform(0.05, 0.6)
                while time.monotonic() < end:
                    counter += 1
                    name = src / f"d{counter % 7}" / f"f{counter % 23}"
                    name.parent.mkdir(exist_ok=True)
                    name.write_bytes(os.urandom(rng.randrange(1, 50_000)))
                    if counter % 5 == 0:
                        victim = src / f"d{(counter + 3) % 7}" / f"f{counter % 11}"
                        victim.unlink(missing_ok=True)
                    if counter % 9 == 0 and name.exists():
                        name.rename(name.with_suffix(".renamed"))
                d.proc.kill()
                d.proc.wait(10)
                # Changes while it is down are picked up by the next reconcile.
                (src / f"offline{_round}").write_text(str(_round))
            finally:
                d.close()
        d = Daemon(tmp_path, src, dst, "--max-delete", "-1")
        try:
            d.wait_ready()
            converge(src, dst)
            assert d.terminate() == 0
        finally:
            d.close()


class TestLiveDeleteGuard:
    """Deletes seen live count against the same guard as a reconcile's."""

    def test_emptied_source_does_not_empty_the_destination(
        self, tmp_path: Path, src: Path, dst: Path
    ) -> None:
        for i in range(20):
            (src / f"n{i}.txt").write_text(str(i))
        d = Daemon(tmp_path, src, dst)  # the default guard: no --max-delete
        try:
            d.wait_ready()
            converge(src, dst)
            for path in sorted(src.iterdir()):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            wait_for(lambda: "delete refused" in d.output(), "the refusal to be logged")
            status = fsreplica("status", src, dst, "--state", d.state)
            assert "refused" in status.stdout
            # Half of what was there is the most that can go before the guard stops deletes.
            assert len(tree(dst)) >= 12
            assert d.terminate() == 0
        finally:
            d.close()

    def test_renaming_most_of_the_tree_is_not_refused(
        self, tmp_path: Path, src: Path, dst: Path
    ) -> None:
        for i in range(20):
            (src / "docs" / f"n{i}.txt").write_text(str(i))
        d = Daemon(tmp_path, src, dst)  # the default guard: no --max-delete
        try:
            d.wait_ready()
            converge(src, dst)
            (src / "docs").rename(src / "papers")
            converge(src, dst)
            assert "refused" not in d.output()
            assert d.terminate() == 0
        finally:
            d.close()
