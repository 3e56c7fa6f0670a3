"""A real `fsreplica daemon` process on its real socket, for the API and the CLI clients."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fsreplica.daemon.client import DaemonClient, DaemonRefused, DaemonUnreachable

DEADLINE = 20.0

CONFIG_HEAD = """\
# fsreplica daemon config (this comment must survive every change the API makes)
[daemon]
socket = "{socket}"
{extra}
# the first policy
[[policy]]
id = "docs"                       # its id
source = "{source}"
destination = "{destination}"
scan_interval = "1h"
"""


def wait_for(condition: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    """Poll `condition` until it holds, or fail after `deadline` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RunningDaemon:
    """`fsreplica daemon --config CONFIG` as a child process, its stderr in a file.

    Attributes:
        root: Its files: config.toml, src/, dst/, state/ (XDG_STATE_HOME), daemon.err.
        run: A short directory for its socket (AF_UNIX paths are limited to 107 bytes).
        socket: Its Unix socket.
        config: Its config file.
        tcp: `127.0.0.1:PORT` of its TCP listener, or None.
        token: The bearer token of that listener.
        env: The environment it runs in (give the same to the CLI clients).
    """

    def __init__(self, root: Path, run: Path, *, tcp: bool = False) -> None:
        self.root = root
        self.run = run
        self.socket = str(run / "fsreplica" / "fsreplica.sock")
        self.config = root / "config.toml"
        self.src = root / "src"
        self.dst = root / "dst"
        self.src.mkdir(exist_ok=True)
        self.tcp = f"127.0.0.1:{free_port()}" if tcp else None
        self.token = secrets.token_urlsafe(24)
        self.token_file = root / "token"
        extra = ""
        if tcp:
            self.token_file.write_text(self.token + "\n")
            self.token_file.chmod(0o600)
            extra = f'api = "{self.tcp}"\ntoken_file = "{self.token_file}"\n'
        if not self.config.exists():
            self.config.write_text(
                CONFIG_HEAD.format(
                    socket=self.socket, extra=extra, source=self.src, destination=self.dst
                )
            )
        self.env = {
            **os.environ,
            "XDG_STATE_HOME": str(root / "state"),
            "XDG_CONFIG_HOME": str(root / "xdg-config"),
            "XDG_RUNTIME_DIR": str(run),
            "PYTHONFAULTHANDLER": "1",  # a daemon that hangs shows its threads (see stop)
        }
        self.err_path = root / "daemon.err"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> RunningDaemon:
        with self.err_path.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fsreplica", "daemon", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=self.env,
                cwd=self.root,  # where a relative path in a policy would land
            )
        if wait:
            wait_for(self._answers, f"the daemon to answer on {self.socket}")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the daemon exited {self.proc.returncode}: {self.stderr()}")
        try:
            self.client().get("/health")
        except DaemonUnreachable:
            return False
        return True

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def stop(self) -> int:
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        with proc:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=DEADLINE)
                except subprocess.TimeoutExpired:
                    # SIGABRT: faulthandler (PYTHONFAULTHANDLER) writes every thread's stack
                    # to stderr, which the failure shows.
                    proc.send_signal(signal.SIGABRT)
                    try:
                        proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                    raise AssertionError(f"the daemon did not stop: {self.stderr()}") from None
        return proc.returncode

    def client(self) -> DaemonClient:
        return DaemonClient(self.socket, timeout=DEADLINE)

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        headers: dict[str, str] | None = None,
        tcp: bool = False,
    ) -> tuple[int, dict[str, str], Any]:
        """Send one request as it is; return (status, headers, JSON body or None)."""
        connection: http.client.HTTPConnection
        if tcp:
            assert self.tcp is not None
            host, port = self.tcp.rsplit(":", 1)
            connection = http.client.HTTPConnection(host, int(port), timeout=DEADLINE)
        else:
            connection = _Unix(self.socket)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read()
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        parsed = (
            json.loads(data) if data and "json" in answer_headers.get("content-type", "") else data
        )
        return response.status, answer_headers, parsed

    def cli(self, *args: str | Path, socket: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `fsreplica ARGS --socket SOCKET` to completion, in the daemon's environment."""
        more = ["--socket", self.socket] if socket else []
        return subprocess.run(
            [sys.executable, "-m", "fsreplica", *map(str, args), *more],
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            env=self.env,
            check=False,
        )


class _Unix(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=DEADLINE)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(DEADLINE)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


@contextlib.contextmanager
def short_dir() -> Iterator[Path]:
    """A directory with a short path, for sockets."""
    path = Path(tempfile.mkdtemp(prefix="fsr-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def running(root: Path, *, tcp: bool = False, start: bool = True) -> Iterator[RunningDaemon]:
    """A daemon over `root`, stopped (SIGTERM, exit 0 checked) at the end."""
    with short_dir() as run:
        daemon = RunningDaemon(root, run, tcp=tcp)
        try:
            if start:
                daemon.start()
            yield daemon
        finally:
            code = daemon.stop()
        assert code == 0, daemon.stderr()


def policy_body(daemon: RunningDaemon, policy_id: str, **fields: Any) -> dict[str, Any]:
    """A policy replicating a new directory of `daemon.root` to another."""
    source = daemon.root / f"src-{policy_id}"
    source.mkdir(exist_ok=True)
    return {
        "id": policy_id,
        "source": str(source),
        "destination": str(daemon.root / f"dst-{policy_id}"),
        **fields,
    }


def refused(call: Callable[[], object]) -> DaemonRefused:
    """The DaemonRefused that `call` raises."""
    with pytest.raises(DaemonRefused) as info:
        call()
    return info.value
