"""A small client of the daemon's control API over its Unix socket, with the standard library only.

The CLI clients (`fsreplica policy`, `trigger`, `status`) use it, so they work without the
`daemon` extra. Bodies are plain JSON data (dicts and lists), as `docs/api.md` describes them.

A client asks `DaemonClient(socket).get("/policies")` and gets the list of policies as JSON data;
an error answer raises `DaemonRefused`, a socket nobody answers on `NoDaemon`.
"""

from __future__ import annotations

import errno
import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

from fsreplica._oserrors import cause_of
from fsreplica.errors import DaemonRefused, DaemonUnreachable, NoDaemon

PREFIX = "/api/v1"
DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take (a long poll adds its own wait to it)."""


class _UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket."""

    def __init__(self, path: str, *, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class DaemonClient:
    """Requests to one daemon's API; one connection per request.

    Args:
        socket_path: The daemon's Unix socket.
        timeout: Seconds each request may take.
    """

    def __init__(self, socket_path: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        """Send a request to `/api/v1<path>`; return its JSON body (None when empty).

        Raises:
            NoDaemon: Nothing listens on the socket.
            DaemonUnreachable: The socket cannot be used (permission denied, a timeout, ...).
            DaemonRefused: The daemon answered with an error.
        """
        connection = _UnixConnection(self.socket_path, timeout=timeout or self.timeout)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            try:
                connection.request(method, PREFIX + path, body=data, headers=headers)
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                raise NoDaemon(self.socket_path) from exc
            response = connection.getresponse()
            status, raw = response.status, response.read()
        except OSError as exc:
            if exc.errno == errno.ENOTSOCK:
                raise DaemonUnreachable(self.socket_path, "not a socket") from exc
            reason = "no answer in time" if isinstance(exc, TimeoutError) else cause_of(exc)
            raise DaemonUnreachable(self.socket_path, reason) from exc
        except http.client.HTTPException as exc:
            raise DaemonUnreachable(self.socket_path, f"not an fsreplica daemon ({exc})") from exc
        finally:
            connection.close()
        return _decode(status, raw, self.socket_path)

    def get(self, path: str, *, timeout: float | None = None) -> Any:
        """`GET /api/v1<path>`."""
        return self.request("GET", path, timeout=timeout)

    def post(self, path: str, body: Any = None) -> Any:
        """`POST /api/v1<path>`."""
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        """`PUT /api/v1<path>`."""
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any) -> Any:
        """`PATCH /api/v1<path>`."""
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> Any:
        """`DELETE /api/v1<path>`."""
        return self.request("DELETE", path)


def segment(text: str) -> str:
    """`text` as one path segment of a URL (a policy or job id)."""
    return quote(text, safe="")


def _decode(status: int, raw: bytes, path: str) -> Any:
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        if status >= 400:
            raise DaemonRefused(status, f"HTTP {status}") from None
        raise DaemonUnreachable(path, "not an fsreplica daemon (its answer is not JSON)") from None
    if status >= 400:
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            raise DaemonRefused(status, data["error"], data.get("detail"))
        raise DaemonRefused(status, f"HTTP {status}", data)
    return data


__all__ = ["DaemonClient", "DaemonRefused", "DaemonUnreachable", "NoDaemon", "segment"]
