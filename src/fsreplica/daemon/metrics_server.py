"""The metrics over TCP: `GET /metrics` at the config's `metrics = "host:port"` address."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from typing import Protocol

from fsreplica._oserrors import cause_of
from fsreplica.errors import ListenError

log = logging.getLogger(__name__)


def parse_address(text: str) -> tuple[str, int]:
    """Split a `host:port` address (`[::1]:9464` for IPv6) into host and port.

    Raises:
        ValueError: Not `host:port`, or the port is not 0-65535 (0: any free port).
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"not host:port: {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


class _Handler(http.server.BaseHTTPRequestHandler):
    """`GET /metrics` (and `/`, which links to it); everything else 404."""

    server: _Server
    protocol_version = "HTTP/1.0"
    timeout = 10.0  # a client that sends nothing must not hold the (single) serving thread

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        if path == "/metrics":
            body, content_type = self.server.render(self.headers.get("Accept"))
            self._reply(200, body, content_type)
        elif path == "/":
            self._reply(200, b'<a href="/metrics">/metrics</a>\n', "text/html; charset=utf-8")
        else:
            self._reply(404, b"not found\n", "text/plain; charset=utf-8")

    def _reply(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged (one every 15 s would drown the daemon's own lines)."""


class _Server(http.server.HTTPServer):
    def __init__(self, address: tuple[str, int], render: _Render) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.render = render
        super().__init__(address, _Handler)


class _Render(Protocol):
    def __call__(self, accept: str | None = None) -> tuple[bytes, str]: ...


class MetricsServer:
    """Serve `GET /metrics` over TCP at `host:port`, one request at a time, in one thread.

    The thread blocks in `accept()` (no poll interval: an idle daemon is not woken);
    `stop()` shuts the listening socket down, which ends the blocked accept, and joins it.

    Args:
        address: `host:port` (see `parse_address`); port 0 chooses a free port.
        render: What to serve (`DaemonMetrics.render`).

    Raises:
        ValueError: A malformed address.
        ListenError: The address cannot be bound (`listen HOST:PORT: address already in use`).
    """

    def __init__(self, address: str, render: _Render) -> None:
        try:
            self._server = _Server(parse_address(address), render)
        except OSError as exc:
            raise ListenError(address, cause_of(exc)) from exc
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def address(self) -> str:
        """The address bound, as `host:port` (the port chosen when 0 was asked for)."""
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def start(self) -> None:
        """Start serving."""
        self._thread = threading.Thread(
            target=self._serve, name="fsreplica-metrics-http", daemon=True
        )
        self._thread.start()

    def _serve(self) -> None:
        server = self._server
        while True:
            try:
                conn, peer = server.socket.accept()
            except OSError:
                return  # shut down by stop()
            try:
                server.finish_request(conn, peer)
            except Exception as exc:
                log.debug("metrics: request from %s failed: %s", peer, exc)
            finally:
                server.shutdown_request(conn)

    def stop(self) -> None:
        """Stop serving and close the socket; idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._server.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # never listened, or already shut
        if self._thread is not None:
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
