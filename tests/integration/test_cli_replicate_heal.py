"""`fsreplica replicate` keeps DEST right without waiting for the next reconcile (an hour).

Hard-linked names, steady churn under the live delete guard, and a failed file fixed by chmod.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_cli_replicate_helpers import WITHOUT_READ_OVERRIDE, Daemon, fsreplica, tree, wait_for


def converged(src: Path, dst: Path) -> None:
    wait_for(lambda: tree(src) == tree(dst), "DEST to mirror SRC")


def test_a_write_through_one_name_of_a_hard_link_updates_the_others(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "n").mkdir(parents=True)
    (src / "h1.txt").write_text("first version")
    os.link(src / "h1.txt", src / "h2.txt")
    os.link(src / "h1.txt", src / "n" / "h3.txt")
    d = Daemon(tmp_path, src, dst)
    try:
        d.wait_ready()
        converged(src, dst)
        with open(src / "h1.txt", "w") as f:  # in place: inotify reports h1.txt alone
            f.write("second version, written through h1.txt")
        converged(src, dst)
        assert (dst / "n" / "h3.txt").read_text() == "second version, written through h1.txt"
        assert d.terminate() == 0
    finally:
        d.close()


def test_steady_churn_is_not_refused_by_the_live_delete_guard(tmp_path: Path) -> None:
    """Files created and deleted one for one: DEST never shrinks, so no delete is refused."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    names = [f"f{i:03}.txt" for i in range(20)]
    for name in names:
        (src / name).write_text(name)
    d = Daemon(tmp_path, src, dst)  # the default guard: no --max-delete
    try:
        d.wait_ready()
        converged(src, dst)
        for cycle in range(30):  # more deletes than half of the 20 files, as many creates
            new = f"new{cycle:03}.txt"
            (src / new).write_text(new)
            wait_for((dst / new).exists, f"the copy of {new}")
            (src / names.pop(0)).unlink()
            names.append(new)
        converged(src, dst)
        assert "refused" not in d.output()
        assert d.terminate() == 0
    finally:
        d.close()
    status = fsreplica("status", "--state", d.state)
    assert "refused" not in status.stdout, status.stdout


def test_a_refusal_is_shown_by_status_until_a_reconcile_settles_it(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for i in range(20):
        (src / f"n{i}.txt").write_text(str(i))
    d = Daemon(tmp_path, src, dst)
    try:
        d.wait_ready()
        converged(src, dst)
        for i in range(15):  # three quarters of DEST would be gone
            (src / f"n{i}.txt").unlink()
        wait_for(lambda: "delete refused" in d.output(), "the refusal to be logged")
        status = fsreplica("status", "--state", d.state)
        refused = [
            line for line in status.stdout.splitlines() if line.startswith("deletes refused")
        ]
        assert len(refused) == 1, status.stdout
        assert "more than half of the 20 files" in refused[0]
        assert d.terminate() == 0
    finally:
        d.close()
    allowed = fsreplica("sync", src, dst, "--state", d.state, "--max-delete", "-1")
    assert allowed.returncode == 0, allowed.stderr
    status = fsreplica("status", "--state", d.state)
    assert "deletes refused" not in status.stdout, status.stdout
    assert tree(src) == tree(dst)


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv")
def test_a_failed_file_fixed_by_chmod_is_replicated_without_a_reconcile(tmp_path: Path) -> None:
    """Unreadable, then made readable: chmod gives no event, the parked failure is retried.

    Run as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (setpriv), so that a mode-000
    file is as unreadable to it as to any user.
    """
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "ok.txt").write_text("fine")
    secret = src / "secret.txt"
    secret.write_text("readable once fixed")
    secret.chmod(0)
    command = [
        *WITHOUT_READ_OVERRIDE,
    ]
    d = Daemon(tmp_path, src, dst, command=command)
    try:
        d.wait_ready()
        assert "1 failed" in d.output()
        secret.chmod(0o644)
        wait_for((dst / "secret.txt").exists, "the fixed file to be replicated")
        assert (dst / "secret.txt").read_text() == "readable once fixed"
        status = fsreplica("status", "--state", d.state)
        assert "failed: 0" in status.stdout, status.stdout
        assert d.terminate() == 0
    finally:
        d.close()
