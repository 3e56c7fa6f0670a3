"""`fsreplica replicate` whose thread fails: the process ends with one line, never a zombie.

The fault is injected into a real process: the child replaces one method with one that raises,
then runs the CLI as `fsreplica replicate` would. Nothing in the product reads a test hook.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_replicate_helpers import DEADLINE, Daemon, fsreplica, wait_for

EXIT_SOFTWARE = 70

# Replaces `module.owner.method` with one that raises once a file named boom* is involved (or
# at once, for the watcher, whose first read after start-up is of boom.txt), then runs the CLI.
CHILD = """
import sys
import fsreplica.cli
from {module} import {owner} as owner

def boom(*args, **kwargs):
    raise RuntimeError("injected fault")

owner.{method} = boom
sys.exit(fsreplica.cli.main(sys.argv[1:]))
"""

FAULTS = {
    "worker": ("fsreplica.replicate.apply", "Applier", "batch", "fsreplica-transfer-"),
    "log-reader": ("fsreplica.replicate.replicator", "Replicator", "_on_event", "fsreplica-log"),
    "watcher": (
        "fsreplica.watch.inotify",
        "InotifyBackend",
        "_read_available",
        "fsreplica-inotify",
    ),
}


def faulty(module: str, owner: str, method: str) -> list[str]:
    code = CHILD.format(module=module, owner=owner, method=method)
    return [sys.executable, "-c", code]


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_a_failed_thread_ends_the_process_with_one_line(
    tmp_path: Path, fault: tuple[str, str, str, str], verbose: bool
) -> None:
    module, owner, method, thread = fault
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()  # empty: the initial sync has nothing to do, the first change meets the fault
    extra = ["-v"] if verbose else []
    d = Daemon(tmp_path, src, dst, *extra, command=faulty(module, owner, method))
    try:
        d.wait_ready()
        (src / "boom.txt").write_text("the change that meets the fault")
        code = d.proc.wait(DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"replicate still running after its {thread} thread failed:\n{d.output()}")
    finally:
        d.close()
    output = d.output()
    assert code == EXIT_SOFTWARE, output
    lines = [line for line in output.splitlines() if "internal error" in line]
    assert len(lines) == 1, output
    assert lines[0].startswith(f"fsreplica: internal error in {thread}"), output
    assert lines[0].endswith(": RuntimeError: injected fault"), output
    assert ("Traceback" in output) is verbose, output
    assert "Exception in thread" not in output, output  # no thread died unseen


def test_the_change_that_met_the_fault_is_replayed_at_the_next_start(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    d = Daemon(tmp_path, src, dst, command=faulty(*FAULTS["worker"][:3]))
    try:
        d.wait_ready()
        (src / "boom.txt").write_text("kept in the journal")
        assert d.proc.wait(DEADLINE) == EXIT_SOFTWARE, d.output()
    finally:
        d.close()
    status = fsreplica("status", "--state", d.state)
    assert "pending: 1" in status.stdout, status.stdout
    d = Daemon(tmp_path, src, dst)
    try:
        d.wait_ready()
        wait_for((dst / "boom.txt").exists, "the journaled change")
        assert d.terminate() == 0
    finally:
        d.close()


def test_exit_status_70_is_documented() -> None:
    result = fsreplica("replicate", "--help")
    assert "70  internal error" in result.stdout


# Holds one method of a real process forever once a file named held* is involved, so that the
# process can be killed at that moment; the rest runs as `fsreplica replicate` does.
HOLD = """
import sys, threading
import fsreplica.cli
from {module} import {owner} as owner

real = owner.{method}

def held(self, *args, **kwargs):
    if "held" in repr(args):
        threading.Event().wait()
    return real(self, *args, **kwargs)

owner.{method} = held
sys.exit(fsreplica.cli.main(sys.argv[1:]))
"""


def holding(module: str, owner: str, method: str) -> list[str]:
    return [sys.executable, "-c", HOLD.format(module=module, owner=owner, method=method)]


def test_killed_after_the_journal_entry_before_the_copy_the_change_is_redone(
    tmp_path: Path,
) -> None:
    """The copy runs beside the journal append: killed before it, the entry brings it back."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    d = Daemon(tmp_path, src, dst, command=holding("fsreplica.replicate.apply", "Applier", "batch"))
    try:
        d.wait_ready()
        (src / "held.txt").write_text("journaled, not copied")
        wait_for(
            lambda: "pending: 1" in fsreplica("status", "--state", d.state).stdout,
            "the journal entry",
        )
        d.kill()
    finally:
        d.close()
    assert not (dst / "held.txt").exists()
    d = Daemon(tmp_path, src, dst)
    try:
        d.wait_ready()
        wait_for((dst / "held.txt").exists, "the journaled change")
        assert (dst / "held.txt").read_text() == "journaled, not copied"
        assert d.terminate() == 0
    finally:
        d.close()
    assert "pending: 0" in fsreplica("status", "--state", d.state).stdout


def test_the_copy_does_not_wait_for_the_journal_commit_and_its_ack_does(tmp_path: Path) -> None:
    """Killed with the entry unwritten and the copy done: nothing is recorded, the file is whole."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    d = Daemon(
        tmp_path, src, dst, command=holding("fsreplica.replicate.journal", "Journal", "write")
    )
    try:
        d.wait_ready()
        (src / "held.txt").write_text("copied before its entry was written")
        wait_for((dst / "held.txt").exists, "the copy")
        status = fsreplica("status", "--state", d.state).stdout
        assert "pending: 0" in status, status  # the entry is not written ...
        d.kill()
    finally:
        d.close()
    (src / "held.txt").write_text("changed while it was down")
    d = Daemon(tmp_path, src, dst)  # ... nor the copy recorded: the reconcile copies it again
    try:
        d.wait_ready()
        wait_for(
            lambda: (dst / "held.txt").read_text() == "changed while it was down",
            "the change made while replicate was down",
        )
        assert d.terminate() == 0
    finally:
        d.close()
    assert fsreplica("verify", "-q", src, dst).returncode == 0
