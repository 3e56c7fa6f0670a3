"""`fsreplica watch DIR...`: print debounced put/delete events until interrupted."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fsreplica._names import shown
from fsreplica.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    add_common_options,
    add_debounce,
    add_filters,
    exit_epilog,
    ignore_patterns,
    positive_seconds,
)
from fsreplica.cli._common import on_termination as _on_termination
from fsreplica.config import BACKENDS, DEFAULT_POLL_INTERVAL, WatcherConfig
from fsreplica.errors import WatcherError
from fsreplica.watch import Watcher


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(
        name,
        help="print file changes as they happen",
        epilog=exit_epilog(
            ("0", "stopped by SIGINT or SIGTERM"),
            (
                "1",
                "a watched directory was lost or could not be watched on the way (one line "
                "each); the others were watched until the end",
            ),
            ("2", "bad options, or a DIR cannot be watched at start"),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="DIR", help="directories to watch")
    parser.add_argument("--json", action="store_true", help="one JSON object per event")
    add_debounce(parser)
    add_filters(parser)
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="how to watch (default auto: inotify on local file systems, polling on network ones)",
    )
    parser.add_argument(
        "--poll-interval",
        type=positive_seconds,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help=f"period of the polling backend (default {DEFAULT_POLL_INTERVAL})",
    )
    add_common_options(parser)


def run(args: argparse.Namespace) -> int:
    """Watch until SIGINT/SIGTERM; exit 0, or 2 when a path cannot be watched."""
    ignore = ignore_patterns(args)
    try:
        config = WatcherConfig(
            debounce_delay=args.debounce,
            ignore=ignore,
            backend=args.backend,
            poll_interval=args.poll_interval,
        )
    except ValueError as exc:
        print(f"fsreplica: {exc}", file=sys.stderr)
        return EXIT_USAGE
    watcher = Watcher(config)
    _on_termination(watcher.stop)
    try:
        for path in args.paths:
            watcher.watch(path)
    except WatcherError as exc:
        watcher.stop()
        print(f"fsreplica: {exc}", file=sys.stderr)
        return EXIT_USAGE
    watching = ", ".join(f"{root} ({name})" for root, name in watcher.backends.items())
    print(f"fsreplica: watching {watching}", file=sys.stderr, flush=True)
    code = EXIT_OK
    out = sys.stdout
    with watcher:
        while True:
            try:
                for event in watcher.events():
                    if args.json:
                        line = json.dumps(
                            {
                                "operation": str(event.operation),
                                "path": event.path,
                                "key": event.key,
                                "timestamp": event.timestamp.isoformat(),
                                "moved_from": event.moved_from,
                            }
                        )
                    else:
                        line = f"{event.operation}: {shown(event.path)}"
                    out.write(line + "\n")
                    out.flush()
                break
            except WatcherError as exc:
                print(f"fsreplica: {exc}", file=sys.stderr, flush=True)
                code = EXIT_FAILED
                if watcher.stats.roots == 0:
                    break
    return code
