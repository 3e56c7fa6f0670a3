"""A single-node Ceph RADOS Gateway for the real-server tier, started once per test session.

`shared()` starts monitor, OSD (memstore) and radosgw in a temporary directory on free ports the
first time it is called, and stops them at exit. A watchdog process holds the read end of a pipe
whose write end only this process holds: if the test run dies (even by SIGKILL) the pipe closes
and the watchdog stops the daemons, so none outlives the run.

Ceph must be installed (`scripts/install-test-deps.sh`). When it cannot start, the tests that need
it fail with the reason; set FSREPLICA_SKIP_CEPH=1 to skip them instead, deliberately.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parent / "ceph"
ACCESS_KEY = "fsreplicaaccess"
SECRET_KEY = "fsreplicasecret-not-for-logs"
START_TIMEOUT = 120.0

_WATCHDOG = """
import subprocess, sys
sys.stdin.buffer.read()  # returns at EOF: the test process closed it or died
subprocess.run(["bash", sys.argv[1], sys.argv[2]], check=False)
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class CephRGW:
    """A running cluster: where it lives and how to reach it."""

    directory: Path
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    _watchdog: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, directory: Path) -> CephRGW:
        """Start a cluster in `directory` (created; removed again by `stop`).

        Raises:
            RuntimeError: It did not start; the message has the script's error and log tail.
        """
        rgw_port, mon_port = free_port(), free_port()
        env = {
            **os.environ,
            "RGW_PORT": str(rgw_port),
            "MON_PORT": str(mon_port),
            "S3_ACCESS_KEY": ACCESS_KEY,
            "S3_SECRET_KEY": SECRET_KEY,
            "MEMSTORE_BYTES": str(8 << 30),
        }
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(SCRIPTS / "stop_ceph_rgw.sh"), str(directory)],
            stdin=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C of the test run must not kill it before cleanup
        )
        cluster = cls(directory, f"http://127.0.0.1:{rgw_port}", _watchdog=watchdog)
        try:
            done = subprocess.run(
                ["bash", str(SCRIPTS / "start_ceph_rgw.sh"), str(directory)],
                env=env,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            cluster.stop()
            raise RuntimeError(f"ceph rgw did not start within {START_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            tail = cluster._log_tail()
            cluster.stop()
            raise RuntimeError(f"ceph rgw did not start: {done.stderr.strip()[-800:]}{tail}")
        return cluster

    def _log_tail(self) -> str:
        logs = sorted((self.directory / "log").glob("*.log"))
        tails = [f"\n--- {p.name}\n" + "\n".join(p.read_text().splitlines()[-5:]) for p in logs]
        return "".join(tails)[-2000:]

    def stop(self) -> None:
        """Stop the daemons and remove the directory; idempotent."""
        subprocess.run(
            ["bash", str(SCRIPTS / "stop_ceph_rgw.sh"), str(self.directory)],
            check=False,
            capture_output=True,
            timeout=60,
        )
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            assert watchdog.stdin is not None
            watchdog.stdin.close()
            watchdog.wait(timeout=30)

    def rgw_pid(self) -> int:
        """The pid of radosgw."""
        return int((self.directory / "run" / "client.rgw.a.pid").read_text())

    def stop_rgw(self) -> None:
        """Stop radosgw only (the cluster keeps its data); wait until it has exited."""
        pid = self.rgw_pid()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def start_rgw(self) -> None:
        """Start radosgw again and wait until it answers."""
        conf = self.directory / "ceph.conf"
        subprocess.run(["radosgw", "-c", str(conf), "-n", "client.rgw.a"], check=True, timeout=30)
        deadline = time.monotonic() + 30
        host, port = self.endpoint.removeprefix("http://").split(":")
        while True:
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (radosgw daemonizes, so not our child) still answers kill 0; check its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


_lock = threading.Lock()
_cluster: CephRGW | None = None
_failure: str | None = None


def shared() -> CephRGW:
    """The session's cluster, started on first call; fails (or skips, if asked) the caller."""
    global _cluster, _failure
    if os.environ.get("FSREPLICA_SKIP_CEPH") == "1":
        pytest.skip("FSREPLICA_SKIP_CEPH=1")
    with _lock:
        if _cluster is None and _failure is None:
            if shutil.which("radosgw") is None:
                _failure = "ceph is not installed: run scripts/install-test-deps.sh as root"
            else:
                directory = Path(tempfile.mkdtemp(prefix="fsreplica-ceph-"))
                try:
                    _cluster = CephRGW.start(directory)
                    atexit.register(_cluster.stop)
                except RuntimeError as exc:
                    _failure = str(exc)
        if _failure is not None:
            pytest.fail(f"ceph rgw unavailable ({_failure}); FSREPLICA_SKIP_CEPH=1 skips")
        assert _cluster is not None
        return _cluster
