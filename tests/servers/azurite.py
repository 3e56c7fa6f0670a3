"""Azurite, Microsoft's Azure Storage emulator (blob service only), started once per test session.

`endpoint()` starts `azurite-blob` in memory on a free port of 127.0.0.1 the first time it is
called and stops it at exit. It runs under a small watchdog that holds the read end of a pipe
whose write end only this process holds: if the test run dies (even by SIGKILL) the pipe closes
and the watchdog stops Azurite, so none outlives the run.

Azurite is installed by `scripts/install-test-deps.sh` (npm, pinned) under
$FSREPLICA_TEST_DIR/azurite (default /opt/fsreplica-test); `AZURITE_BLOB` names another
`azurite-blob` executable. When it is
missing the tests that need it fail with the reason; set FSREPLICA_SKIP_AZURITE=1 to skip them
instead, deliberately.

Every client is given the emulator's well-known development account explicitly, so nothing looks
for a cloud credential (or dials a metadata server).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

ACCOUNT = "devstoreaccount1"
# Azurite's published development key (the same in every installation; not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
INSTALL_DIR = Path(os.environ.get("FSREPLICA_TEST_DIR") or "/opt/fsreplica-test") / "azurite"
START_TIMEOUT = 60.0

_WATCHDOG = """
import subprocess, sys
with subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL) as azurite:
    sys.stdin.buffer.read()  # returns at EOF: the test process closed it or died
    azurite.terminate()
    try:
        azurite.wait(10)
    except subprocess.TimeoutExpired:
        azurite.kill()
"""

_lock = threading.Lock()
_server: subprocess.Popen[bytes] | None = None
_endpoint: str | None = None


def executable() -> str | None:
    """The `azurite-blob` to run, or None when it is not installed."""
    named = os.environ.get("AZURITE_BLOB")
    if named:
        return named
    installed = INSTALL_DIR / "node_modules" / ".bin" / "azurite-blob"
    if installed.exists():
        return str(installed)
    return shutil.which("azurite-blob")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def endpoint() -> str:
    """The blob endpoint of the shared Azurite (`http://127.0.0.1:PORT/devstoreaccount1`).

    Started on first call; skips the test when FSREPLICA_SKIP_AZURITE=1 and Azurite is missing.
    """
    global _server, _endpoint
    with _lock:
        if _endpoint is not None:
            return _endpoint
        program = executable()
        if program is None:
            reason = "azurite-blob not installed (run scripts/install-test-deps.sh)"
            if os.environ.get("FSREPLICA_SKIP_AZURITE") == "1":
                pytest.skip(reason)
            pytest.fail(reason)
        port = free_port()
        args = [
            *(sys.executable, "-c", _WATCHDOG, program),
            *("--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck"),
            *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
        ]
        server = subprocess.Popen(args, stdin=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                _stop(server)
                pytest.fail(f"azurite did not start on port {port}")
            time.sleep(0.05)
        _server = server
        _endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
        atexit.register(stop)
        return _endpoint


def _stop(server: subprocess.Popen[bytes]) -> None:
    assert server.stdin is not None
    server.stdin.close()  # the watchdog stops Azurite
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def stop() -> None:
    """Stop the shared Azurite; idempotent."""
    global _server, _endpoint
    with _lock:
        server, _server, _endpoint = _server, None, None
    if server is not None:
        _stop(server)


def connection_string(blob_endpoint: str | None = None) -> str:
    """A connection string for the development account on `blob_endpoint` (default: shared)."""
    url = blob_endpoint or endpoint()
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={url};"
    )


def service(blob_endpoint: str | None = None) -> Any:
    """An azure-storage-blob BlobServiceClient for checking what is stored (tests only)."""
    from azure.storage.blob import BlobServiceClient  # noqa: PLC0415 (slow import)

    return BlobServiceClient.from_connection_string(connection_string(blob_endpoint))


def new_container(blob_endpoint: str | None = None) -> str:
    """Create a container with a fresh name and return the name."""
    name = f"fsr-{uuid.uuid4().hex[:20]}"
    with service(blob_endpoint) as client:
        client.create_container(name)
    return name


def delete_container(name: str, blob_endpoint: str | None = None) -> None:
    """Delete a container and everything in it (best effort)."""
    try:
        with service(blob_endpoint) as client:
            client.delete_container(name)
    except Exception:  # cleanup: best effort
        pass


def env(tmp_path: Path, blob_endpoint: str | None = None) -> dict[str, str]:
    """The environment of a CLI child that reaches Azurite with the development account."""
    child = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AWS_"))}
    child.update(
        AZURE_STORAGE_ACCOUNT_NAME=ACCOUNT,
        AZURE_STORAGE_ACCOUNT_KEY=KEY,
        AZURE_STORAGE_ENDPOINT=blob_endpoint or endpoint(),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    return child
