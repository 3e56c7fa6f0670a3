"""`fsreplica replicate` stopped while files change: what the kernel queue lost still arrives."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from test_cli_replicate_helpers import Daemon, tree, wait_for

from watcher.conftest import sysctl

MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"


@pytest.mark.sysctl
def test_appends_made_while_stopped_reach_dest(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    files = [src / f"f{i:03d}.log" for i in range(300)]
    for path in files:
        path.write_text(f"first line of {path.name}\n")
    daemon = None
    try:
        # An inotify instance takes the queue size in force when it is made: lowered only
        # until the replicator is watching, so other processes keep the default.
        with sysctl(MAX_QUEUED_EVENTS, 256):
            daemon = Daemon(tmp_path, src, dst)
            daemon.wait_ready()
        wait_for(lambda: tree(dst) == tree(src), "the initial sync")
        os.kill(daemon.proc.pid, signal.SIGSTOP)
        try:
            for path in files:  # two events each: more than the queue holds
                with open(path, "a") as f:
                    f.write("second line\n")
            # Stopped for a while, as a process paused by a debugger, a suspended VM or an
            # overloaded machine is: longer than the rescan's margin for the kernel's clock.
            time.sleep(2.0)
        finally:
            os.kill(daemon.proc.pid, signal.SIGCONT)

        def stale() -> list[str]:
            at_dest = tree(dst)
            return sorted(k for k, data in tree(src).items() if at_dest.get(k) != data)

        wait_for(lambda: not stale(), "every appended file at DEST")
        assert "overflowed" in daemon.output()
        assert daemon.terminate() == 0, daemon.output()
    finally:
        if daemon is not None:
            daemon.close()
