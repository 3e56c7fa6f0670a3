"""A daemon process under a NOTIFY_SOCKET the test creates; the unit file it prints, verified."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import DEADLINE, DaemonProcess, daemon_environ, policy_table, tree


class NotifySocket:
    """A datagram socket in tmp_path that collects what the daemon tells systemd."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[str] = []

    def until(self, text: str, deadline: float = DEADLINE) -> str:
        """The first message (from now) holding `text`."""
        end = time.monotonic() + deadline
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} in {self.messages}")
            self.sock.settimeout(left)
            message = self.sock.recv(65536).decode()
            self.messages.append(message)
            if text in message:
                return message

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    each = NotifySocket(tmp_path / "notify.sock")
    yield each
    each.close()


def test_ready_only_after_the_first_reconcile(tmp_path: Path, notify_socket: NotifySocket) -> None:
    src = tmp_path / "src"
    for n in range(300):
        path = src / f"d{n % 10}" / f"f{n}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {n}")
    wanted = tree(src)
    config = tmp_path / "config.toml"
    config.write_text(policy_table("docs", src, tmp_path / "dst"))
    env = daemon_environ(tmp_path)
    env["NOTIFY_SOCKET"] = str(notify_socket.path)
    with DaemonProcess(tmp_path, config, env=env) as daemon:
        ready = notify_socket.until("READY=1")
        # Told only once the first reconcile is done: everything is at DEST by then.
        assert tree(tmp_path / "dst") == wanted
        assert "STATUS=1 policy: 1 live" in ready
        assert not any("READY=1" in m for m in notify_socket.messages[:-1])

        daemon.signal(signal.SIGHUP)
        reloading = notify_socket.until("RELOADING=1")
        assert "MONOTONIC_USEC=" in reloading
        notify_socket.until("READY=1")

        daemon.signal(signal.SIGTERM)
        notify_socket.until("STOPPING=1")
        assert daemon.proc.wait(DEADLINE) == 0


def analyze(path: Path, *, user: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if user:
        runtime = path.parent / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    command = ["systemd-analyze", *(["--user"] if user else []), "verify", str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize("kind", ["system", "user"])
def test_printed_unit_passes_systemd_analyze_verify(tmp_path: Path, kind: str) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (scripts/install-test-deps.sh installs it)")
    config = tmp_path / "my config.toml"
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "fsreplica",
            "daemon",
            "--print-systemd-unit",
            kind,
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env=daemon_environ(tmp_path),
        check=True,
    )
    assert f'-m fsreplica daemon --config "{config}"\n' in printed.stdout
    unit = tmp_path / "fsreplica.service"
    unit.write_text(printed.stdout)
    result = analyze(unit, user=kind == "user")
    said = [line for line in (result.stdout + result.stderr).splitlines() if unit.name in line]
    assert result.returncode == 0, result.stdout + result.stderr
    assert said == []  # verify exits 0 on unknown keys and bad values: it must say nothing
