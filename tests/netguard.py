"""The loopback guard: no test opens a connection to anything but this machine.

An audit hook (PEP 578) sees every `socket.connect`, `connect_ex` and `sendto` of this process,
and every name lookup (`getaddrinfo`, `gethostbyname`, ...). A connection to an address outside
127.0.0.0/8 and ::1, or a lookup of a name other than localhost (which would ask a DNS server),
is refused before the system call, by raising `NonLoopback` (a PermissionError, as from a
firewall, so the caller closes its socket), and recorded: the autouse fixture in conftest.py
fails the test it happened in, even when the code under test swallowed the exception (as cloud
clients do while they look for a metadata server). Unix sockets and other families (netlink)
are local by nature and pass.

Child Python processes (the CLI under test) install it too: `sitecustomize` in netguard_site/,
first on the PYTHONPATH that conftest.py sets, refuses the same way and appends each refusal to
a log file that the fixture reads (`install(log=...)`, `take_log`).

It sees what goes through Python's socket module (requests, urllib3, http.client, asyncio), not
connections made inside native code (obstore's Rust client) or by programs that are not Python.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

_LOCAL_NAMES = frozenset({"localhost", "localhost.", "localhost.localdomain", "ip6-localhost"})
_INET = (socket.AF_INET, socket.AF_INET6)
_CONNECTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_LOOKUPS = frozenset({"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"})
_REVERSE = frozenset({"socket.gethostbyaddr", "socket.getnameinfo"})


class NonLoopback(PermissionError):
    """A test tried to reach something other than this machine."""


_lock = threading.Lock()
_seen: list[str] = []
_installed = False
_log: str | None = None  # in a child process: where refusals are appended


def is_loopback_host(host: object) -> bool:
    """Whether `host` (an address literal or a name) stays on this machine, without a lookup."""
    if host is None or host == "" or host == b"":
        return True  # no host: a bind, or the local machine
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.partition("%")[0].strip("[]"))
    except ValueError:
        return False  # a name: looking it up asks a DNS server
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def is_address(host: object) -> bool:
    """Whether `host` is an IP address literal (looking it up asks nobody)."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    try:
        ipaddress.ip_address(host.partition("%")[0].strip("[]"))
    except ValueError:
        return False
    return True


def _address_host(sock: Any, address: Any) -> tuple[bool, object]:
    """(whether to check, the host) of a socket address."""
    if getattr(sock, "family", None) not in _INET:
        return False, None  # Unix, netlink, ...: local by nature
    if isinstance(address, tuple) and address:
        return True, address[0]
    return True, address


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event in _CONNECTS:
        sock = args[0]
        address = args[1] if len(args) > 1 else None
        if event == "socket.sendmsg" or address is None:
            return  # a connected socket: its connect was checked
        check, host = _address_host(sock, address)
        if not check or is_loopback_host(host):
            return
        _refuse(f"{event.removeprefix('socket.')} to {address!r}")
    elif event in _LOOKUPS:
        # An address literal is only parsed (the connect to it is checked); a name asks DNS.
        if not is_loopback_host(args[0]) and not is_address(args[0]):
            _refuse(f"name lookup of {args[0]!r}")
    elif event in _REVERSE:
        host = args[0][0] if isinstance(args[0], tuple) else args[0]
        if not is_loopback_host(host):
            _refuse(f"reverse lookup of {host!r}")


def _refuse(what: str) -> None:
    message = f"loopback guard: {what} (tests reach only 127.0.0.0/8, ::1 and unix sockets)"
    with _lock:
        _seen.append(message)
        if _log is not None:
            _append(_log, f"{message} [pid {os.getpid()}: {' '.join(sys.argv)[:200]}]")
    raise NonLoopback(message)


def _append(path: str, line: str) -> None:
    # One write of one line with O_APPEND: lines of processes running at once never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line.replace("\n", " ") + "\n").encode("utf-8", "replace"))
    finally:
        os.close(fd)


def install(*, log: str | None = None) -> None:
    """Install the audit hook (once per process; it cannot be removed), or set where it logs.

    Args:
        log: In a child process, the file each refusal is appended to, for the test run's
            fixture to find; None in the test run itself (a pytest run by a test included),
            which keeps them in memory for `take`.
    """
    global _installed, _log
    with _lock:
        _log = log
        if _installed:
            return
        _installed = True
    sys.addaudithook(_hook)


def take_log(path: str) -> list[str]:
    """The refusals child processes appended to `path` since the last call (and empty it)."""
    try:
        with open(path, "r+", encoding="utf-8") as file:
            lines = file.read().splitlines()
            file.truncate(0)
    except FileNotFoundError:
        return []
    return lines


def take() -> list[str]:
    """What was refused since the last call (and forget it)."""
    with _lock:
        seen = list(_seen)
        _seen.clear()
    return seen


@contextlib.contextmanager
def expecting() -> Iterator[list[str]]:
    """For the guard's own tests: collect what the block had refused, instead of failing."""
    take()
    refused: list[str] = []
    try:
        yield refused
    finally:
        refused.extend(take())
