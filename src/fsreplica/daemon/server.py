"""Serve the control API on the daemon's Unix socket, and optionally on TCP with a bearer token.

uvicorn runs in a thread of its own (`fsreplica-api`) with its own event loop and no signal
handlers: the daemon owns its signals. The listening sockets are made here, not by uvicorn, so
that the Unix socket is 0600 from the start in a 0700 directory, a second daemon on the same
socket is refused with one line, and `start()` returns once both listen.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hmac
import os
import socket
import stat
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fsreplica._names import shown
from fsreplica._oserrors import cause_of
from fsreplica.daemon import dashboard

try:
    from fsreplica.daemon.api import Metrics, end_long_polls, make_app
except ImportError as exc:  # pragma: no cover - the daemon extra is missing
    raise ImportError(
        f"the daemon's API needs {exc.name}: pip install 'fsreplica[daemon]'", name=exc.name
    ) from exc
from fsreplica.daemon.control import Control
from fsreplica.errors import ListenError, TokenError

STOP_GRACE = 2.0
"""Seconds requests in progress get to finish when the server stops."""
BACKLOG = 128

Socket = socket.socket

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class ApiServer:
    """The control API of one daemon, served on its Unix socket (and on TCP when asked).

    `start()` returns once it listens; `stop()` (or leaving a `with` block) ends it.

    Args:
        control: What the API controls.
        socket: The Unix socket's path; its directory is created 0700 when missing.
        tcp: `HOST:PORT` of an optional TCP listener (`[::1]:8765` for IPv6).
        token_file: The bearer token of the TCP listener (required with `tcp`); a file that
            group or others can read is refused.
        metrics: Renders `GET /metrics`.
    """

    def __init__(
        self,
        control: Control,
        *,
        socket: str,
        tcp: str | None = None,
        token_file: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if tcp is not None and token_file is None:
            raise ValueError("a TCP listener needs a token file")
        self.socket_path = os.path.abspath(socket)
        self._tcp = tcp
        self._token_file = token_file
        self._app = make_app(control, metrics=metrics)
        self._lock_fd: int | None = None
        self._sockets: list[Socket] = []
        self._servers: list[Any] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._socket_inode: tuple[int, int] | None = None
        self._stopped = False

    @property
    def tcp_address(self) -> tuple[str, int] | None:
        """The (host, port) the TCP listener is bound to (its port when 0 was asked), or None."""
        for sock in self._sockets:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host, port = sock.getsockname()[:2]
                return str(host), int(port)
        return None

    def start(self) -> None:
        """Listen on the socket (and TCP); serve in a thread. Listening when it returns.

        Raises:
            ListenError: The socket or its directory cannot be used, another daemon answers
                on it, or the TCP address cannot be bound.
            TokenError: The token file is missing, empty, or readable by group or others.
        """
        if self._thread is not None or self._stopped:
            raise RuntimeError("an ApiServer starts once")
        try:
            token = _read_token(self._token_file) if self._tcp is not None else None
            self._listen_unix()
            if self._tcp is not None and token is not None:
                self._sockets.append(_listen_tcp(self._tcp))
            self._thread = threading.Thread(
                target=self._run, args=(token,), name="fsreplica-api", daemon=True
            )
            self._thread.start()
            self._ready.wait()
            if self._failure is not None:
                raise ListenError(self.socket_path, f"server failed: {self._failure}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop serving, remove the socket; requests in progress get `STOP_GRACE` seconds."""
        if self._stopped:
            return
        self._stopped = True
        loop, event = self._loop, self._exit
        if loop is not None and event is not None:
            for server in self._servers:
                server.should_exit = True
            with contextlib.suppress(RuntimeError):  # the loop ended already
                loop.call_soon_threadsafe(end_long_polls, self._app)
                loop.call_soon_threadsafe(event.set)
        if self._thread is not None:
            self._thread.join()
        for sock in self._sockets:
            sock.close()
        self._remove_socket()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # The Unix socket.

    def _listen_unix(self) -> None:
        path = self.socket_path
        directory = os.path.dirname(path)
        _secure_directory(directory, path)
        # The lock says "a daemon owns this socket": two daemons starting at once cannot both
        # find the socket stale and take it.
        lock = f"{path}.lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ListenError(path, f"lock {shown(lock)}: {cause_of(exc)}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise ListenError(path, f"another fsreplica daemon answers there{pid}") from None
        self._lock_fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._remove_stale(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            os.chmod(path, 0o600)
            sock.listen(BACKLOG)
        except OSError as exc:
            sock.close()
            raise ListenError(path, cause_of(exc)) from exc
        info = os.stat(path)
        self._socket_inode = (info.st_dev, info.st_ino)
        self._sockets.append(sock)

    @staticmethod
    def _remove_stale(path: str) -> None:
        """Remove the socket of a daemon that died (we hold the lock now); refuse anything else."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ListenError(path, "exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError as exc:
            if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise ListenError(path, cause_of(exc)) from exc
        else:
            # Answered although nobody holds the lock: a daemon of an older kind, or not ours.
            raise ListenError(path, "another process answers there")
        finally:
            probe.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def _remove_socket(self) -> None:
        if self._socket_inode is None:
            return
        with contextlib.suppress(OSError):
            info = os.lstat(self.socket_path)
            if (info.st_dev, info.st_ino) == self._socket_inode:
                os.unlink(self.socket_path)
        self._socket_inode = None

    # The server thread.

    def _run(self, token: bytes | None) -> None:
        try:
            asyncio.run(self._serve(token))
        except BaseException as exc:  # reported by start(), or logged by uvicorn while serving
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self, token: bytes | None) -> None:
        import uvicorn  # noqa: PLC0415 - the daemon extra

        loop = asyncio.get_running_loop()
        exit_event = asyncio.Event()
        self._loop, self._exit = loop, exit_event

        class _Server(uvicorn.Server):
            """A uvicorn server that sleeps until told to stop (uvicorn's own loop ticks 10/s)."""

            def __init__(self, config: uvicorn.Config) -> None:
                super().__init__(config)
                self.listening: asyncio.Future[None] = loop.create_future()

            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets=sockets)
                self.listening.set_result(None)

            async def main_loop(self) -> None:
                await self.on_tick(0)
                await exit_event.wait()

        tasks = []
        for sock in self._sockets:
            app: App = self._app
            if sock.family != socket.AF_UNIX and token is not None:
                app = BearerToken(app, token=token)
            config = uvicorn.Config(
                app,
                lifespan="off",
                log_config=None,
                access_log=False,
                date_header=False,  # uvicorn sets the date at each tick; this server has none
                server_header=False,
                timeout_graceful_shutdown=int(STOP_GRACE),
                ws="none",
            )
            server = _Server(config)
            self._servers.append(server)
            tasks.append(asyncio.create_task(server.serve(sockets=[sock])))
        listening = [server.listening for server in self._servers]
        pending: set[asyncio.Future[None]] = {*tasks, *listening}
        while not all(future.done() for future in listening):
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if any(task in done for task in tasks):
                exit_event.set()  # one listener ended before the others listen: end them all
                break
        else:
            self._ready.set()
        await asyncio.gather(*tasks)
        if not self._ready.is_set():
            raise RuntimeError("the server ended while starting")


_PUBLIC = frozenset({"/api/v1/health", "/health"}) | dashboard.PUBLIC_PATHS
"""What the TCP listener serves without the token: the health check and the dashboard's static
files (which hold no data: the page asks for the token and sends it with each API call)."""


class BearerToken:
    """ASGI middleware: every route but `_PUBLIC` needs `Authorization: Bearer <token>`."""

    def __init__(self, app: App, *, token: bytes) -> None:
        self._app = app
        self._expected = b"Bearer " + token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request if it carries the token; answer 401 otherwise."""
        if scope["type"] != "http" or scope["path"] in _PUBLIC:
            await self._app(scope, receive, send)
            return
        given = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), b"")
        if hmac.compare_digest(given, self._expected):
            await self._app(scope, receive, send)
            return
        body = b'{"error":"a bearer token is required","detail":null}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="fsreplica"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _secure_directory(directory: str, path: str) -> None:
    """Create the socket's directory 0700 if missing; refuse one another user could tamper with.

    The socket's mode is its access control, so nobody else may be able to replace it: its
    directory must be ours (or root's) and not writable by others unless sticky (as /tmp).
    """
    missing = []
    head = directory
    while head and not os.path.lexists(head):
        missing.append(head)
        head = os.path.dirname(head)
    for created in reversed(missing):
        try:
            os.mkdir(created, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ListenError(path, f"directory {shown(created)}: {cause_of(exc)}") from exc
    try:
        info = os.lstat(directory)
    except OSError as exc:
        raise ListenError(path, f"directory {shown(directory)}: {cause_of(exc)}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise ListenError(path, f"{shown(directory)} is not a directory")
    if info.st_uid not in (os.getuid(), 0):
        raise ListenError(path, f"directory {shown(directory)} belongs to another user")
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise ListenError(path, f"directory {shown(directory)} is writable by others")


def _read_token(path: str | None) -> bytes:
    """The bearer token in `path`: refused when group or others can read the file."""
    if path is None:
        raise ValueError("a TCP listener needs a token file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise TokenError(path, cause_of(exc)) from exc
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if info.st_mode & 0o077:
            raise TokenError(path, f"readable by group or others (chmod 600 {shown(path)})")
        token = file.read(4096).strip()
    if not token:
        raise TokenError(path, "empty")
    if any(byte < 0x21 or byte > 0x7E for byte in token):
        raise TokenError(path, "not one line of printable characters")
    return token


def _listen_tcp(address: str) -> socket.socket:
    """A listening TCP socket on `HOST:PORT`."""
    host, sep, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit():
        raise ListenError(address, "not HOST:PORT")
    try:
        infos = socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ListenError(address, cause_of(exc)) from exc
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ListenError(address, cause_of(exc)) from exc
    return sock
