"""`fsreplica replicate SRC DEST`: reconcile, then replicate every change until interrupted."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from fsreplica.cli._common import EXIT_OK, EXIT_USAGE, add_common_options
from fsreplica.cli._common import on_termination as _on_termination
from fsreplica.cli._replication import add_replication, fail, make_replicator
from fsreplica.errors import FsreplicaError
from fsreplica.replicate import DEFAULT_SCAN_INTERVAL, SyncReport


def add_parser(sub: Any, name: str) -> None:
    """Register the subcommand."""
    parser = sub.add_parser(name, help="mirror SRC to DEST in real time until interrupted")
    add_replication(parser)
    parser.add_argument(
        "--scan-interval",
        type=float,
        default=DEFAULT_SCAN_INTERVAL,
        metavar="SECONDS",
        help=f"full reconcile period, as a safety net (default {DEFAULT_SCAN_INTERVAL:.0f})",
    )
    add_common_options(parser)


def run(args: argparse.Namespace) -> int:
    """Replicate until SIGINT/SIGTERM, then finish in-flight copies and exit 0."""
    if args.scan_interval <= 0:
        fail("--scan-interval must be positive")
        return EXIT_USAGE
    replicator = make_replicator(args, scan_interval=args.scan_interval)
    if replicator is None:
        return EXIT_USAGE

    def ready(report: SyncReport) -> None:
        if not args.quiet:
            print(
                f"fsreplica: initial sync: {report.summary()}; replicating {args.source} to "
                f"{args.destination}",
                file=sys.stderr,
                flush=True,
            )

    with replicator:
        _on_termination(replicator.stop)
        try:
            replicator.run(on_ready=ready)
        except FsreplicaError as exc:
            fail(exc)
            return EXIT_USAGE
    return EXIT_OK
