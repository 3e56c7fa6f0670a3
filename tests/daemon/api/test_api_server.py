"""The daemon's listeners: the socket's modes, one daemon per socket, the TCP listener's token."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from api_daemon import DEADLINE, RunningDaemon, running, short_dir


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def refused_start(daemon: RunningDaemon) -> subprocess.CompletedProcess[str]:
    """Run the daemon expecting it to refuse to start."""
    return subprocess.run(
        [sys.executable, "-m", "fsreplica", "daemon", "--config", str(daemon.config)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=daemon.env,
        check=False,
    )


class TestSocket:
    """The Unix socket: 0600 in a 0700 directory, one daemon, stale sockets replaced."""

    def test_socket_0600_in_a_directory_made_0700(self, daemon: RunningDaemon) -> None:
        assert stat.S_ISSOCK(os.lstat(daemon.socket).st_mode)
        assert mode(daemon.socket) == 0o600
        assert mode(os.path.dirname(daemon.socket)) == 0o700

    def test_a_second_daemon_on_the_socket_is_refused(
        self, daemon: RunningDaemon, tmp_path: Path
    ) -> None:
        assert daemon.proc is not None
        (tmp_path / "second").mkdir()
        second = RunningDaemon(tmp_path / "second", daemon.run)
        second.config.write_text(daemon.config.read_text())
        result = refused_start(second)
        assert result.returncode == 2
        # Its policies may have said something first (standing by: the first daemon holds
        # their destination's lease); the refusal is one line, the last.
        assert result.stderr.splitlines()[-1] == (
            f"fsreplica: listen {daemon.socket}: another fsreplica daemon answers there "
            f"(pid {daemon.proc.pid})"
        )
        assert daemon.client().get("/health")["status"] == "ok"

    def test_a_stale_socket_is_replaced(self, tmp_path: Path) -> None:
        with running(tmp_path, start=False) as daemon:
            os.makedirs(os.path.dirname(daemon.socket), mode=0o700)
            with socket.socket(socket.AF_UNIX) as stale:
                stale.bind(daemon.socket)  # bound, never listening: a daemon that died
            daemon.start()
            assert daemon.client().get("/health")["status"] == "ok"
        assert not os.path.exists(daemon.socket)

    def test_a_file_in_place_of_the_socket_is_refused(self, tmp_path: Path) -> None:
        with running(tmp_path, start=False) as daemon:
            os.makedirs(os.path.dirname(daemon.socket), mode=0o700)
            Path(daemon.socket).write_text("not a socket")
            result = refused_start(daemon)
        assert result.returncode == 2
        assert result.stderr == f"fsreplica: listen {daemon.socket}: exists and is not a socket\n"

    @pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory away")
    def test_a_directory_of_another_user_is_refused(self, tmp_path: Path) -> None:
        with running(tmp_path, start=False) as daemon:
            directory = os.path.dirname(daemon.socket)
            os.makedirs(directory, mode=0o700)
            os.chown(directory, 65534, 65534)
            result = refused_start(daemon)
        assert result.returncode == 2
        assert result.stderr == (
            f"fsreplica: listen {daemon.socket}: directory {directory} belongs to another user\n"
        )

    def test_a_directory_others_can_write_is_refused(self, tmp_path: Path) -> None:
        with running(tmp_path, start=False) as daemon:
            directory = os.path.dirname(daemon.socket)
            os.makedirs(directory)
            os.chmod(directory, 0o777)
            result = refused_start(daemon)
        assert result.returncode == 2
        assert result.stderr == (
            f"fsreplica: listen {daemon.socket}: directory {directory} is writable by others\n"
        )


class TestTcp:
    """The TCP listener: a bearer token for every route but /health."""

    def test_401_without_the_token_200_with_it(self, tmp_path: Path) -> None:
        with running(tmp_path, tcp=True) as daemon:
            good = {"Authorization": f"Bearer {daemon.token}"}
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": daemon.token}):
                for method, path in (
                    ("GET", "/api/v1/status"),
                    ("GET", "/api/v1/policies"),
                    ("POST", "/api/v1/sync"),
                    ("GET", "/api/v1/openapi.json"),
                    ("GET", "/api/v1/nothing"),
                ):
                    status, answer_headers, body = daemon.raw(
                        method, path, headers=headers, tcp=True
                    )
                    assert status == 401, (method, path, headers)
                    assert answer_headers["www-authenticate"].startswith("Bearer")
                    assert set(body) == {"error", "detail"}
            status, _, health = daemon.raw("GET", "/api/v1/health", tcp=True)
            assert (status, health["status"]) == (200, "ok")
            status, _, policies = daemon.raw("GET", "/api/v1/policies", headers=good, tcp=True)
            assert status == 200
            assert [policy["id"] for policy in policies] == ["docs"]
            # The socket needs no token: its mode is its access control.
            assert daemon.client().get("/policies")[0]["id"] == "docs"
        assert daemon.token not in daemon.stderr()

    def test_a_token_file_others_can_read_is_refused(self, tmp_path: Path) -> None:
        with running(tmp_path, tcp=True, start=False) as daemon:
            daemon.token_file.chmod(0o640)
            result = refused_start(daemon)
        assert result.returncode == 2
        assert result.stderr == (
            f"fsreplica: token {daemon.token_file}: readable by group or others "
            f"(chmod 600 {daemon.token_file})\n"
        )
        assert daemon.token not in result.stderr

    def test_a_missing_token_file_is_refused(self, tmp_path: Path) -> None:
        with running(tmp_path, tcp=True, start=False) as daemon:
            daemon.token_file.unlink()
            result = refused_start(daemon)
        assert result.returncode == 2
        assert result.stderr == f"fsreplica: token {daemon.token_file}: no such file or directory\n"


def test_a_socket_path_too_long_is_one_line(tmp_path: Path) -> None:
    with short_dir() as run:
        long_dir = run / ("d" * 120)
        daemon = RunningDaemon(tmp_path, run)
        text = daemon.config.read_text().replace(daemon.socket, str(long_dir / "s.sock"))
        daemon.config.write_text(text)
        result = refused_start(daemon)
    assert result.returncode == 2
    assert result.stderr.startswith(f"fsreplica: listen {long_dir / 's.sock'}: ")
    assert result.stderr.count("\n") == 1
