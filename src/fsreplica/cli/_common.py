"""Options and helpers shared by every subcommand."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from fsreplica import filters
from fsreplica._names import one_line
from fsreplica._oserrors import cause_of
from fsreplica.cli import _signals
from fsreplica.config import DEFAULT_DEBOUNCE_DELAY
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


def seconds(text: str) -> float:
    """An argparse type: a duration in seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 <= value < math.inf):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a duration in seconds, more than 0."""
    value = seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (more than 0)")
    return value


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number, `minimum` or more."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of {minimum} or more")
        return value

    return whole


def add_debounce(parser: argparse.ArgumentParser) -> None:
    """Add --debounce (watch, sync, replicate)."""
    parser.add_argument(
        "--debounce",
        type=seconds,
        default=DEFAULT_DEBOUNCE_DELAY,
        metavar="SECONDS",
        help=f"coalescing window per path (default {DEFAULT_DEBOUNCE_DELAY})",
    )


def source_problem(path: str) -> str | None:
    """Why `path` cannot be a source directory (as the system says it), or None."""
    try:
        if not os.path.isdir(path):
            os.stat(path)  # exists: it is not a directory; missing: say so
            return f"{path}: not a directory"
    except OSError as exc:
        return f"{path}: {cause_of(exc)}"
    return None


def plural(count: int, noun: str) -> str:
    """`1 difference`, `2 differences`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def ignore_patterns(args: argparse.Namespace) -> tuple[str, ...]:
    """The ignore patterns --exclude and --no-default-excludes ask for."""
    return filters.ignore_patterns(args.exclude, default_excludes=not args.no_default_excludes)


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


INTERNAL_ERROR_ROW = (
    "70",
    "internal error: a thread of fsreplica stopped on an unexpected exception (a bug); one line "
    "names the thread and the cause (-v adds the traceback)",
)


def exit_epilog(*rows: tuple[str, str]) -> str:
    """The `exit status:` section of a subcommand's --help, from (code, meaning) rows."""
    import textwrap  # noqa: PLC0415 - only to print --help

    lines = ["exit status:"]
    for code, meaning in sorted((*rows, INTERNAL_ERROR_ROW), key=lambda row: int(row[0])):
        wrapped = textwrap.wrap(meaning, width=88)
        lines.append(f"  {code:<4}{wrapped[0]}")
        lines += [f"      {more}" for more in wrapped[1:]]
    return "\n".join(lines)


def on_termination(callback: Callable[[], None]) -> Callable[[], int | None]:
    """Run `callback` (once, in its own thread) on SIGINT or SIGTERM; a second signal exits now.

    Returns:
        A function that tells which signal arrived, if one did (a command that was interrupted
        before it finished exits 128 + that number, as shells report it).

    The signal is acted on by the relay's thread (see `_signals`), which starts the callback in
    a thread of its own: the callback may take long (finishing in-flight copies) and a second
    signal must still be heard meanwhile. The thread is not a daemon, so the interpreter waits
    for it before exiting. Only from the main thread.
    """
    received: list[int] = []
    fired = threading.Event()

    def handler(signum: int) -> None:
        if fired.is_set():
            # The user insists: leave without cleaning up (the journal is durable).
            os.write(2, b"fsreplica: interrupted again, exiting now\n")
            os._exit(128 + signum)
        fired.set()
        received.append(signum)
        threading.Thread(target=callback, name="fsreplica-stop").start()

    for signum in (signal.SIGINT, signal.SIGTERM):
        if not _signals.handle(signum, handler):
            return lambda: None
    return lambda: received[0] if received else None
