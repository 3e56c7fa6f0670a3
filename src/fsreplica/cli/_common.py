"""Options and helpers shared by every subcommand."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from fsreplica._names import one_line
from fsreplica.errors import InternalError
from fsreplica.filters import DEFAULT_IGNORE

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SOFTWARE = 70
"""A thread stopped on an unexpected exception (a bug): BSD sysexits' EX_SOFTWARE."""


def add_filters(parser: argparse.ArgumentParser) -> None:
    """Add --exclude and --no-default-excludes."""
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="glob to ignore, on top of the defaults (repeatable)",
    )
    parser.add_argument(
        "--no-default-excludes",
        action="store_true",
        help="do not ignore " + " ".join(DEFAULT_IGNORE),
    )


def ignore_patterns(args: argparse.Namespace) -> list[str]:
    """The ignore patterns --exclude and --no-default-excludes ask for."""
    return [*([] if args.no_default_excludes else DEFAULT_IGNORE), *args.exclude]


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Add -v/-q and --log-format to a subcommand's parser."""
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="log less")
    parser.add_argument(
        "--log-format", choices=("text", "json"), default="text", help="log line format"
    )


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class _TextFormatter(logging.Formatter):
    """`fsreplica: LEVEL: message`, the message on one line whatever names it holds."""

    def __init__(self) -> None:
        super().__init__("fsreplica: %(levelname)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        return one_line(super().formatMessage(record))


def configure_logging(*, verbosity: int, fmt: str) -> None:
    """Send fsreplica's logs to stderr at a level chosen by -v/-q."""
    level = {-2: logging.CRITICAL, -1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        verbosity, logging.DEBUG if verbosity > 1 else logging.CRITICAL
    )
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter())
    logger = logging.getLogger("fsreplica")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


def internal_error(exc: InternalError, *, verbose: bool) -> int:
    """Say in one line which thread failed and why (the traceback too when verbose)."""
    print(f"fsreplica: {exc}", file=sys.stderr, flush=True)
    if verbose:
        traceback.print_exception(exc.error, file=sys.stderr)
    return EXIT_SOFTWARE


def on_termination(callback: Callable[[], None]) -> None:
    """Run `callback` (once, in its own thread) on SIGINT or SIGTERM; a second signal exits now.

    The handler itself only starts a thread: Python runs signal handlers in the main thread
    between two bytecodes, possibly while that thread holds a lock the callback needs (the
    event channel's, the replicator's), and calling it there would deadlock. The thread is not a
    daemon, so the interpreter waits for it before exiting. Only from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    fired = threading.Event()

    def handler(signum: int, frame: object) -> None:
        if fired.is_set():
            # The user insists: leave without cleaning up (the journal is durable).
            os.write(2, b"fsreplica: interrupted again, exiting now\n")
            os._exit(128 + signum)
        fired.set()
        threading.Thread(target=callback, name="fsreplica-stop").start()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
