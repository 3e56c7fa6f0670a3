"""The loopback guard (tests/netguard.py) itself: it stops what leaves the machine, first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import netguard

TEST_NET = "192.0.2.1"  # TEST-NET-1 (RFC 5737): documentation only, never routed


class TestRefused:
    """Connections and lookups that would leave the machine raise, before the system call."""

    def test_connect_to_test_net(self) -> None:
        with netguard.expecting() as refused, socket.socket() as sock:
            sock.settimeout(5)
            started = time.monotonic()
            with pytest.raises(netguard.NonLoopback, match=r"192\.0\.2\.1"):
                sock.connect((TEST_NET, 9))
            # Raised by the hook, not by a timeout or a refusal from the network.
            assert time.monotonic() - started < 1
        assert refused == [
            "loopback guard: connect to ('192.0.2.1', 9) (tests reach only 127.0.0.0/8, ::1 "
            "and unix sockets)"
        ]

    def test_connect_ex_udp_sendto_and_ipv6(self) -> None:
        with netguard.expecting() as refused:
            with socket.socket() as sock, pytest.raises(netguard.NonLoopback):
                sock.connect_ex((TEST_NET, 80))
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            with udp, pytest.raises(netguard.NonLoopback):
                udp.sendto(b"x", ("169.254.169.254", 80))
            with socket.socket(socket.AF_INET6) as six, pytest.raises(netguard.NonLoopback):
                six.connect(("2001:db8::1", 80))
        assert len(refused) == 3

    def test_name_lookup(self) -> None:
        socket.getaddrinfo(TEST_NET, 80)  # an address is only parsed: its connect is checked
        with netguard.expecting() as refused:
            with pytest.raises(netguard.NonLoopback, match=r"metadata\.google\.internal"):
                socket.getaddrinfo("metadata.google.internal", 80)
            with pytest.raises(netguard.NonLoopback):
                socket.create_connection(("example.com", 80), timeout=1)
        assert len(refused) == 2

    def test_swallowed_in_a_thread_is_still_recorded(self) -> None:
        def swallow() -> None:
            try:
                with socket.create_connection((TEST_NET, 80), timeout=1):
                    pass
            except Exception:  # as a client looking for a metadata server does
                pass

        with netguard.expecting() as refused:
            thread = threading.Thread(target=swallow)
            thread.start()
            thread.join()
        assert len(refused) == 1
        assert "192.0.2.1" in refused[0]


class TestAllowed:
    """This machine: loopback addresses, localhost, unix sockets."""

    def test_loopback_tcp_and_unix(self, tmp_path) -> None:
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            for host in ("127.0.0.1", "localhost"):
                with socket.create_connection((host, server.getsockname()[1]), timeout=5):
                    pass
        with socket.socket(socket.AF_UNIX) as unix:
            unix.bind(str(tmp_path / "sock"))
            unix.listen()
            with socket.socket(socket.AF_UNIX) as client:
                client.connect(str(tmp_path / "sock"))
        assert netguard.take() == []

    @pytest.mark.parametrize(
        "host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "localhost", None, ""]
    )
    def test_loopback_hosts(self, host: str | None) -> None:
        assert netguard.is_loopback_host(host)

    @pytest.mark.parametrize(
        "host", ["192.0.2.1", "10.0.0.1", "169.254.169.254", "0.0.0.0", "::", "example.com"]
    )
    def test_other_hosts(self, host: str) -> None:
        assert not netguard.is_loopback_host(host)


class TestFixture:
    """The autouse fixture fails the test, even when the code swallowed the refusal."""

    def test_a_swallowed_connection_fails_its_test(self, tmp_path) -> None:
        tests = Path(__file__).resolve().parents[1]
        (tmp_path / "conftest.py").write_text(
            "import importlib.util, sys\n"
            f"sys.path.insert(0, {str(tests)!r})\n"
            "spec = importlib.util.spec_from_file_location(\n"
            f"    'suite_conftest', {str(tests / 'conftest.py')!r})\n"
            "module = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(module)\n"
            "_loopback_only = module._loopback_only\n"
        )
        (tmp_path / "test_dials.py").write_text(
            "import socket\n"
            "def test_dials():\n"
            "    try:\n"
            f"        socket.create_connection(({TEST_NET!r}, 80), timeout=1).close()\n"
            "    except Exception:\n"
            "        pass\n"
            "def test_stays_home():\n"
            "    socket.getaddrinfo('127.0.0.1', 80)\n"
        )
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=25,
            check=False,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert "2 passed, 1 error" in done.stdout, done.stdout
        assert "loopback guard: connect to ('192.0.2.1', 80)" in done.stdout


class TestChildProcesses:
    """A Python child of the test run is guarded too, and its refusals reach the fixture."""

    def test_a_child_that_dials_out_is_caught(self) -> None:
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(({TEST_NET!r}, 80), timeout=1).close()\n"
            "except PermissionError as exc:\n"
            "    print('refused:', exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=25, check=False
        )
        logged = netguard.take_log(os.environ["FSREPLICA_NETGUARD_LOG"])
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("refused: loopback guard: connect to ('192.0.2.1', 80)")
        assert len(logged) == 1
        assert logged[0].startswith("loopback guard: connect to ('192.0.2.1', 80)")
        assert "[pid " in logged[0]

    def test_a_child_on_loopback_passes(self) -> None:
        code = "import socket\nsocket.getaddrinfo('localhost', 80)\nprint('ok')\n"
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=25, check=False
        )
        assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
        assert netguard.take_log(os.environ["FSREPLICA_NETGUARD_LOG"]) == []
