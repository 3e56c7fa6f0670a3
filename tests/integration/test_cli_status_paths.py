"""The default state file: one per SRC/DEST pair, however DEST is written.

`/abs/dst`, `/abs/dst/` and `file:///abs/dst` name the same destination, so `sync`, `replicate`
and `status` must all pick the same file under $XDG_STATE_HOME/fsreplica (here inside tmp_path,
never the real home).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli_replicate_helpers import DEADLINE, fsreplica, tree, wait_for

# Each spelling of the same destination directory.
SPELLINGS: dict[str, Callable[[Path], str]] = {
    "path": str,
    "slash": lambda dst: f"{dst}/",
    "url": lambda dst: f"file://{dst}",
}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "d").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "d" / "b.txt").write_text("b")
    return root


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}


def state_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "xdg" / "fsreplica").glob("*.db"))


@pytest.mark.parametrize("written", SPELLINGS)
def test_status_finds_the_state_sync_wrote_whatever_the_spelling(
    tmp_path: Path, src: Path, env: dict[str, str], written: str
) -> None:
    dst = tmp_path / "dst"
    synced = fsreplica("sync", src, SPELLINGS[written](dst), env=env)
    assert synced.returncode == 0, synced.stderr
    assert tree(dst) == tree(src)
    [state] = state_files(tmp_path)
    for spelling, spell in SPELLINGS.items():
        status = fsreplica("status", src, spell(dst), env=env)
        assert status.returncode == 0, (spelling, status.stderr)
        assert f"state: {state}\n" in status.stdout, spelling
        assert "files replicated: 2" in status.stdout, spelling


def test_sync_and_replicate_share_one_state_file_per_pair(
    tmp_path: Path, src: Path, env: dict[str, str]
) -> None:
    dst = tmp_path / "dst"
    for spell in SPELLINGS.values():
        synced = fsreplica("sync", src, spell(dst), env=env)
        assert synced.returncode == 0, synced.stderr
    assert len(state_files(tmp_path)) == 1

    log = tmp_path / "replicate.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fsreplica", "replicate", str(src), f"file://{dst}"],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    try:
        wait_for(
            lambda: "initial sync" in log.read_text() or proc.poll() is not None,
            "replicate to be ready",
        )
        assert proc.poll() is None, log.read_text()
        # Nothing to copy: the replicate found the files the syncs recorded.
        assert "0 copied" in log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(DEADLINE) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(DEADLINE)
    assert len(state_files(tmp_path)) == 1
