"""`fsreplica status`: an unknown pair, --json, whether a replicator runs, --forget."""

from __future__ import annotations

import json
import os
from pathlib import Path

from test_cli_replicate_helpers import Daemon, fsreplica


def xdg(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "xdg")}


def test_an_unknown_pair_is_named_as_a_pair(tmp_path: Path) -> None:
    result = fsreplica("status", tmp_path / "src", tmp_path / "dst", env=xdg(tmp_path))
    assert result.returncode == 2
    assert result.stderr == (
        f"fsreplica: no state for {tmp_path / 'src'} -> {tmp_path / 'dst'}: "
        "nothing was replicated between them\n"
    )


def test_json_after_a_sync(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.txt").write_text("a")
    assert fsreplica("sync", src, dst, env=xdg(tmp_path)).returncode == 0
    result = fsreplica("status", "--json", src, dst, env=xdg(tmp_path))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert (info["source"], info["destination"]) == (str(src), str(dst))
    assert (info["running"], info["pid"], info["files_replicated"]) == (False, None, 1)
    assert info["failed"] == []
    assert info["pending"] == 0


def test_running_replicator_is_shown_and_cannot_be_forgotten(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "a.txt").write_text("a")
    daemon = Daemon(tmp_path, src, dst)
    try:
        daemon.wait_ready()
        shown = fsreplica("status", "--state", daemon.state)
        assert f"replicator: running (pid {daemon.proc.pid})" in shown.stdout, shown.stdout
        info = json.loads(fsreplica("status", "--json", "--state", daemon.state).stdout)
        assert (info["running"], info["pid"]) == (True, daemon.proc.pid)
        refused = fsreplica("status", "--forget", "--state", daemon.state)
        assert refused.returncode == 2
        assert f"in use by a running fsreplica (pid {daemon.proc.pid})" in refused.stderr
        assert daemon.state.exists()
        assert daemon.terminate() == 0
    finally:
        daemon.close()
    assert "replicator: not running" in fsreplica("status", "--state", daemon.state).stdout
    forgot = fsreplica("status", "--forget", "--state", daemon.state)
    assert forgot.returncode == 0, forgot.stderr
    assert not any(tmp_path.glob("state.db*"))
    assert fsreplica("status", "--state", daemon.state).returncode == 2
