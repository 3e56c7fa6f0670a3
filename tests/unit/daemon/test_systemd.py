"""sd_notify on a real datagram socket, the status line, and the shipped unit files."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.daemon.control_fake import FakeControl

from fsreplica.daemon import systemd
from fsreplica.daemon.systemd import SystemdNotifier, notify, status_line, unit_text


class Listener:
    """A NOTIFY_SOCKET: a datagram socket the test reads what the daemon sends from."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address if address[0] != "@" else "\0" + address[1:])
        self.address = address
        self.messages: list[str] = []

    def next(self, timeout: float = 10.0) -> str:
        self.sock.settimeout(timeout)
        message = self.sock.recv(4096).decode()
        self.messages.append(message)
        return message

    def until(self, text: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(deadline - time.monotonic(), 0.01))
            if text in message:
                return message

    def nothing(self, wait: float = 0.2) -> bool:
        self.sock.settimeout(wait)
        try:
            self.messages.append(self.sock.recv(4096).decode())
        except TimeoutError:
            return True
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    each = Listener(str(tmp_path / "notify.sock"))
    yield each
    each.close()


class TestNotify:
    """The datagram, to a path or an abstract name; nothing without NOTIFY_SOCKET."""

    def test_to_a_path(self, listener: Listener) -> None:
        assert notify("READY=1", environ={"NOTIFY_SOCKET": listener.address})
        assert listener.next() == "READY=1"

    def test_to_an_abstract_name(self) -> None:
        each = Listener(f"@fsreplica-test-{os.getpid()}-{time.monotonic_ns()}")
        try:
            assert notify("STATUS=x", environ={"NOTIFY_SOCKET": each.address})
            assert each.next() == "STATUS=x"
        finally:
            each.close()

    def test_without_a_socket_nothing(self, tmp_path: Path) -> None:
        assert not notify("READY=1", environ={})
        assert not notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "none")})
        assert not notify("READY=1", environ={"NOTIFY_SOCKET": "relative"})

    def test_watchdog_interval(self) -> None:
        assert systemd.watchdog_interval(environ={}) is None
        assert systemd.watchdog_interval(environ={"WATCHDOG_USEC": "2000000"}) == 1.0
        pid = str(os.getpid())
        env = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": pid}
        assert systemd.watchdog_interval(environ=env) == 1.0
        env["WATCHDOG_PID"] = "1"
        assert systemd.watchdog_interval(environ=env) is None


class TestStatusLine:
    """One line that `systemctl status` shows."""

    def test_counts_and_names_what_is_not_live(self) -> None:
        control = FakeControl("a", "b", "c")
        control.set_status("c", state="destination-down")
        assert status_line(control.status()) == "3 policies: 2 live, 1 destination-down (c)"

    def test_none(self) -> None:
        assert status_line(FakeControl().status()) == "no policies"


class TestNotifier:
    """READY=1 once the daemon is ready; STATUS= as the states change; the watchdog."""

    def test_ready_only_once_ready(self, listener: Listener) -> None:
        control = FakeControl("docs")
        control.ready = False
        control.set_status("docs", state="reconciling")
        notifier = SystemdNotifier(control, environ={"NOTIFY_SOCKET": listener.address})
        notifier.start()
        try:
            assert listener.next() == "STATUS=1 policy: 1 reconciling (docs)"
            control.emit("put", "docs", bytes=1)
            assert listener.nothing()
            control.ready = True
            control.set_status("docs", state="live")
            control.emit("state", "docs", detail="live")
            assert listener.next() == "READY=1\nSTATUS=1 policy: 1 live"
            control.emit("state", "docs", detail="live")
            assert listener.nothing()
            control.set_status("docs", state="destination-down")
            control.emit("state", "docs", detail="destination-down")
            assert listener.next() == "STATUS=1 policy: 1 destination-down (docs)"
            notifier.reloading()
            message = listener.next()
            assert message.startswith("RELOADING=1\nMONOTONIC_USEC=")
            notifier.update()
            assert listener.next().startswith("READY=1")
            notifier.stopping()
            assert listener.next() == "STOPPING=1\nSTATUS=stopping"
        finally:
            control.close()
            notifier.stop()

    def test_a_standby_daemon_is_ready(self, listener: Listener) -> None:
        control = FakeControl("docs", "off")
        control.ready = False
        control.set_status("docs", state="standby", detail="lease held by b (pid 7)")
        control.set_status("off", state="disabled")
        notifier = SystemdNotifier(control, environ={"NOTIFY_SOCKET": listener.address})
        notifier.update()
        assert listener.next() == "READY=1\nSTATUS=2 policies: 1 disabled, 1 standby (docs)"

    def test_watchdog_pings_at_half_the_interval(self, listener: Listener) -> None:
        control = FakeControl("docs")
        env = {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "200000"}
        notifier = SystemdNotifier(control, environ=env)
        notifier.start()
        try:
            listener.until("WATCHDOG=1")
            listener.until("WATCHDOG=1")
        finally:
            control.close()
            notifier.stop()

    def test_not_run_by_systemd_no_threads(self) -> None:
        notifier = SystemdNotifier(FakeControl(), environ={})
        notifier.start()
        notifier.stopping()
        notifier.stop()
        assert not notifier._threads


def analyze_verify(path: Path, *, user: bool = False) -> str:
    """The lines `systemd-analyze verify` says about `path` (it exits 0 on unknown keys)."""
    env = dict(os.environ)
    if user:
        runtime = path.parent / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    command = ["systemd-analyze", *(["--user"] if user else []), "verify", str(path)]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=60)
    said = [line for line in (done.stdout + done.stderr).splitlines() if path.name in line]
    assert done.returncode == 0, done.stdout + done.stderr
    return "\n".join(said)


class TestUnitFiles:
    """The unit files ship with the package and pass `systemd-analyze verify`."""

    @pytest.mark.parametrize("kind", ["system", "user"])
    def test_verify(self, kind: str, tmp_path: Path) -> None:
        if shutil.which("systemd-analyze") is None:
            pytest.skip("systemd-analyze is not installed (scripts/install-test-deps.sh)")
        path = tmp_path / "fsreplica.service"
        path.write_text(unit_text(kind))
        assert analyze_verify(path, user=kind == "user") == ""

    def test_runs_this_fsreplica(self) -> None:
        text = unit_text()
        assert f"ExecStart={sys.executable} -m fsreplica daemon\n" in text
        assert "Type=notify\n" in text
        assert "RuntimeDirectory=fsreplica\n" in text
        assert unit_text("user", command="/opt/bin/fsreplica").count("/opt/bin/fsreplica") == 1

    def test_unknown_kind(self) -> None:
        with pytest.raises(ValueError, match="system or user"):
            unit_text("other")
