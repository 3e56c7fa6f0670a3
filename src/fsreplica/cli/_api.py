"""What the clients of the daemon's API share: --socket, the exit codes, tables, one-line errors."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from fsreplica.cli._replication import fail
from fsreplica.daemon.client import DaemonClient, DaemonRefused, DaemonUnreachable
from fsreplica.daemon.paths import default_socket_path

EXIT_NO_DAEMON = 69
"""No daemon answers on the socket: BSD sysexits' EX_UNAVAILABLE."""

NO_DAEMON_ROW = (
    str(EXIT_NO_DAEMON),
    "no daemon answers on the socket (one line names it), or the socket cannot be used",
)
REFUSED_ROW = (
    str(EXIT_USAGE),
    "bad options, or the daemon refused the request (no such policy, a conflict, an invalid "
    "field; its reason in one line)",
)


def add_socket(parser: argparse.ArgumentParser) -> None:
    """Add --socket (default: the daemon's default socket)."""
    parser.add_argument(
        "--socket",
        metavar="PATH",
        default=None,
        help=f"the daemon's socket (default {default_socket_path()})",
    )


def add_json(parser: argparse.ArgumentParser, what: str) -> None:
    """Add --json."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def client(args: argparse.Namespace) -> DaemonClient:
    """The client of the daemon --socket names."""
    return DaemonClient(args.socket or default_socket_path())


def call(action: Callable[[], int]) -> int:
    """Run `action`; say in one line why the daemon could not be asked, with its exit code."""
    try:
        return action()
    except DaemonUnreachable as exc:
        fail(exc)
        return EXIT_NO_DAEMON
    except DaemonRefused as exc:
        fail(refusal(exc))
        return EXIT_USAGE if exc.status < 500 else EXIT_FAILED


def refusal(exc: DaemonRefused) -> str:
    """The daemon's reason, with the fields a validation error names."""
    detail = exc.detail
    if isinstance(detail, list) and len(detail) > 1:
        fields = [
            ".".join(str(p) for p in e.get("loc", ())[1:]) for e in detail if isinstance(e, dict)
        ]
        return f"{exc} (fields: {', '.join(f for f in fields if f)})"
    return str(exc)


def print_json(data: Any) -> None:
    """Print `data` as one line of JSON."""
    print(json.dumps(data, ensure_ascii=True))


def say(message: str) -> None:
    """A confirmation on stderr (stdout carries only data)."""
    print(f"fsreplica: {message}", file=sys.stderr, flush=True)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows in columns, the header first; names shown on one line."""
    cells = [list(header)] + [[shown(str(cell)) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        sys.stdout.write(line.rstrip() + "\n")


def when(value: float | None) -> str:
    """A Unix time as local date and time, or "never"."""
    if value is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def yes_no(value: object) -> str:
    """A boolean as "yes" or "no"."""
    return "yes" if value else "no"


__all__ = [
    "EXIT_FAILED",
    "EXIT_NO_DAEMON",
    "EXIT_OK",
    "EXIT_USAGE",
    "NO_DAEMON_ROW",
    "REFUSED_ROW",
    "add_json",
    "add_socket",
    "call",
    "client",
    "print_json",
    "say",
    "table",
    "when",
    "yes_no",
]
