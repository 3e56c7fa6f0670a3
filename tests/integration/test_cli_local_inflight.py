"""A local DEST listed by other processes while `replicate` copies into it: nothing is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from test_cli_replicate_helpers import Daemon, fsreplica, tree, wait_for

FILES = 40
SIZE = 2 * 1024 * 1024


def _listers(src: Path, dst: Path, tmp_path: Path, stop: threading.Event) -> list[str]:
    """Run `verify` and `sync` against DEST in turns until `stop`; return their stderr."""
    out: list[str] = []
    n = 0
    while not stop.is_set():
        n += 1
        if n % 2:
            args = ["verify", str(src), str(dst)]
        else:
            # Another pair (its own state file) writing into the same DEST: a second writer.
            args = ["sync", str(src), str(dst), "--state", str(tmp_path / "other.db")]
        result = subprocess.run(
            [sys.executable, "-m", "fsreplica", *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        out.append(result.stderr)
    return out


class TestListingDuringCopies:
    """Listing DEST (verify, a second sync) never removes a copy in flight."""

    def test_verify_and_sync_while_replicate_copies(self, tmp_path: Path) -> None:
        src, dst = tmp_path / "src", tmp_path / "dst"
        src.mkdir()
        (src / "seed").write_text("seed")
        daemon = Daemon(tmp_path, src, dst, "--transfers", "4")
        stop = threading.Event()
        results: list[list[str]] = []
        lister = threading.Thread(
            target=lambda: results.append(_listers(src, dst, tmp_path, stop)),
            name="test-lister",
        )
        try:
            daemon.wait_ready()
            lister.start()
            payload = os.urandom(SIZE)
            for i in range(FILES):
                (src / f"big{i:02}.bin").write_bytes(payload[i:] + payload[:i])
            wait_for(lambda: tree(dst) == tree(src), "every file at DEST", deadline=25)
        finally:
            stop.set()
            if lister.is_alive():
                lister.join()
            daemon.close()
        log = daemon.output()
        assert "no such file" not in log.lower(), log
        assert results, "the listers never ran"
        assert results[0], "the listers never ran"
        assert fsreplica("verify", src, dst).returncode == 0
